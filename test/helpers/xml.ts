// Tests of generated SVG check its text with this (shared by the chart and soak tests).
/**
 * Minimal XML well-formedness check (no parser in node_modules): one root element, tags balanced,
 * attributes quoted and unique, only the five predefined or numeric entities, no raw '<' or '&' in text.
 * Returns a list of problems (empty = well-formed).
 */
export function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;
  const checkText = (s: string, where: string): void => {
    for (let i = 0; i < s.length; i++) {
      if (s[i] === '<') problems.push(`raw '<' in ${where}`);
      if (s[i] === '&') {
        entity.lastIndex = i;
        if (!entity.test(s)) problems.push(`bad entity in ${where} at ${JSON.stringify(s.slice(i, i + 8))}`);
      }
    }
  };
  let body = xml;
  const decl = /^<\?xml[^?]*\?>\s*/.exec(body);
  if (decl) body = body.slice(decl[0].length);
  const stack: string[] = [];
  let roots = 0;
  let pos = 0;
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
  while (pos < body.length) {
    const lt = body.indexOf('<', pos);
    const textEnd = lt === -1 ? body.length : lt;
    const between = body.slice(pos, textEnd);
    if (stack.length === 0 && between.trim() !== '') problems.push(`text outside root: ${JSON.stringify(between.slice(0, 20))}`);
    checkText(between, 'text');
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    if (!m) { problems.push(`malformed tag at ${JSON.stringify(body.slice(lt, lt + 30))}`); break; }
    const [whole, close, name = '', attrs = '', selfClose] = m;
    const seen = new Set<string>();
    for (const a of attrs.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      if (seen.has(a[1] ?? '')) problems.push(`duplicate attribute ${a[1]} on <${name}>`);
      seen.add(a[1] ?? '');
      checkText(a[2] ?? a[3] ?? '', `attribute ${a[1]}`);
    }
    if (close) {
      if (attrs.trim() || selfClose) problems.push(`bad closing tag ${whole}`);
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}>`);
    } else {
      if (stack.length === 0) roots++;
      if (!selfClose) stack.push(name);
    }
    pos = lt + whole.length;
  }
  if (stack.length) problems.push(`unclosed: ${stack.join(', ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}
