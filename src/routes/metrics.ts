// GET /metrics: every metric of this app's registry in the Prometheus text format.
import type { FastifyInstance } from 'fastify';
import { noInputClientError } from '../openapi.js';

const metricsSchema = {
  summary: 'Prometheus metrics',
  description: 'Every metric of this server in the Prometheus text format: requests, durations, batch sizes, queue depths, rejections, worker restarts, plus process and Node.js metrics (names start with `onnx_serve_`).',
  tags: ['operations'],
  response: {
    200: {
      description: 'The Prometheus text exposition format.',
      content: {
        'text/plain': {
          schema: { type: 'string' },
          example:
            '# HELP onnx_serve_requests_total Inference requests answered, by protocol (http, grpc) and HTTP status code\n# TYPE onnx_serve_requests_total counter\nonnx_serve_requests_total{model="digits",version="1",variant="",protocol="http",code="200"} 5\n',
        },
      },
    },
    '4xx': noInputClientError(),
  },
};

export async function metricsRoutes(app: FastifyInstance): Promise<void> {
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    const { metrics } = app.serving;
    reply.type(metrics.registry.contentType);
    return metrics.scrape();
  });
}
