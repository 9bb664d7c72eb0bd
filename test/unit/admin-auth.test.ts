// Unit tests for the admin guard: the bearer header's parsing, the constant-time comparison
// and the answer of each refusal (403 when no token is configured, 401 with WWW-Authenticate).
import t from 'tap';
import { bearerToken, checkAdmin, tokenMatches } from '../../src/routes/admin-auth.js';
import { ServeError } from '../../src/errors.js';
import { thrown } from '../helpers/thrown.js';

t.test('bearerToken reads "Bearer <token>" only', async (t) => {
  t.equal(bearerToken('Bearer abc'), 'abc');
  t.equal(bearerToken('bearer abc'), 'abc', 'the scheme is case-insensitive');
  t.equal(bearerToken('Bearer   a b  '), 'a b', 'spaces around the token are not part of it');
  t.equal(bearerToken('Basic YWJj'), undefined);
  t.equal(bearerToken('Bearer'), undefined);
  t.equal(bearerToken('Bearer '), undefined);
  t.equal(bearerToken('Bearerabc'), undefined);
  t.equal(bearerToken(undefined), undefined);
});

t.test('tokenMatches compares whole tokens, whatever their lengths', async (t) => {
  t.ok(tokenMatches('s3cret', 's3cret'));
  t.notOk(tokenMatches('s3cre', 's3cret'), 'a prefix is not the token');
  t.notOk(tokenMatches('s3crett', 's3cret'));
  t.notOk(tokenMatches('', 's3cret'));
  t.notOk(tokenMatches('x'.repeat(10_000), 's3cret'), 'a long guess does not throw (equal-length digests)');
});

t.test('checkAdmin: 403 without a configured token, 401 missing or wrong, passes with it', async (t) => {
  const off = thrown(() => checkAdmin({ headers: { authorization: 'Bearer x' } }, undefined));
  t.ok(off instanceof ServeError && off.code === 'ADMIN_DISABLED' && off.status === 403, '403 ADMIN_DISABLED');
  t.match((off as Error).message, /--admin-token.*--admin-token-file.*ONNX_SERVE_ADMIN_TOKEN/, 'says how to enable them');
  const missing = thrown(() => checkAdmin({ headers: {} }, 'tok')) as ServeError;
  t.equal(missing.code, 'UNAUTHORIZED');
  t.equal(missing.status, 401);
  t.match(missing.headers['www-authenticate'], /^Bearer/);
  t.match(missing.message, /Authorization: Bearer/, 'names the header to send');
  const wrong = thrown(() => checkAdmin({ headers: { authorization: 'Bearer nope' } }, 'tok')) as ServeError;
  t.equal(wrong.code, 'UNAUTHORIZED');
  t.match(wrong.headers['www-authenticate'], /error="invalid_token"/);
  t.notMatch(wrong.message, /tok\b/, 'the message does not show the token');
  t.doesNotThrow(() => checkAdmin({ headers: { authorization: 'Bearer tok' } }, 'tok'));
});
