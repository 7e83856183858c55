/**
 * A small namespace-aware XML reader for what cameras answer and post (SOAP 1.2 envelopes): elements, attributes,
 * namespaces, character data, CDATA, comments and processing instructions. A DOCTYPE is refused (no entity
 * expansion from the network), and depth and element count are bounded so a hostile body cannot exhaust memory.
 * Names are kept by local name with their namespace URI beside them: firmware spells prefixes every way.
 */

export interface XmlElement {
  /** Local name, without prefix. */
  readonly name: string;
  /** Namespace URI, or '' when none is in scope. */
  readonly ns: string;
  /** Attributes by local name (prefix dropped), values decoded; namespace declarations left out. */
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** The element's own character data, concatenated and decoded. */
  text: string;
  /** Prefix → namespace bindings in scope here ('' is the default namespace): for QNames written in content. */
  readonly scope: ReadonlyMap<string, string>;
}

export class XmlError extends Error {
  override readonly name = 'XmlError';
}

const maxDepth = 64;
const maxElements = 20_000;

const entities: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
    const code = ref.startsWith('#x')
      ? Number.parseInt(ref.slice(2), 16)
      : ref.startsWith('#')
        ? Number.parseInt(ref.slice(1), 10)
        : undefined;
    if (code === undefined) return entities[ref] ?? whole;
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

const attributePattern = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function splitQName(qname: string): [prefix: string, local: string] {
  const colon = qname.indexOf(':');
  return colon < 0 ? ['', qname] : [qname.slice(0, colon), qname.slice(colon + 1)];
}

/** The index of the `>` closing a start tag, skipping quoted attribute values. */
function tagEnd(xml: string, from: number): number {
  let quote: string | undefined;
  for (let at = from + 1; at < xml.length; at++) {
    const c = xml[at];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return at;
  }
  throw new XmlError('unterminated start tag');
}

/** Parses a whole document into its root element; throws {@link XmlError} on anything that is not XML. */
export function parseXml(xml: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  let at = 0;
  const appendText = (raw: string, decode: boolean): void => {
    const top = stack.at(-1);
    if (top === undefined) {
      if (raw.trim() !== '') throw new XmlError('text outside the root element');
      return;
    }
    top.text += decode ? decodeEntities(raw) : raw;
  };
  const skipTo = (terminator: string, from: number, what: string): number => {
    const end = xml.indexOf(terminator, from);
    if (end < 0) throw new XmlError(`unterminated ${what}`);
    return end + terminator.length;
  };
  while (at < xml.length) {
    const lt = xml.indexOf('<', at);
    if (lt < 0) {
      appendText(xml.slice(at), true);
      break;
    }
    if (lt > at) appendText(xml.slice(at, lt), true);
    if (xml.startsWith('<?', lt)) at = skipTo('?>', lt, 'processing instruction');
    else if (xml.startsWith('<!--', lt)) at = skipTo('-->', lt, 'comment');
    else if (xml.startsWith('<![CDATA[', lt)) {
      at = skipTo(']]>', lt, 'CDATA section');
      appendText(xml.slice(lt + 9, at - 3), false);
    } else if (xml.startsWith('<!', lt)) throw new XmlError('DOCTYPE and other declarations are refused');
    else if (xml.startsWith('</', lt)) {
      const end = skipTo('>', lt, 'end tag');
      const [prefix, local] = splitQName(xml.slice(lt + 2, end - 1).trim());
      const open = stack.pop();
      if (open === undefined || open.name !== local || open.ns !== (open.scope.get(prefix) ?? ''))
        throw new XmlError(`unexpected end tag ${local}`);
      at = end;
    } else {
      const end = tagEnd(xml, lt);
      const selfClosing = xml[end - 1] === '/';
      const inner = xml.slice(lt + 1, selfClosing ? end - 1 : end);
      const qname = /^[^\s/>]+/.exec(inner)?.[0];
      if (qname === undefined) throw new XmlError('element without a name');
      if (++count > maxElements) throw new XmlError(`more than ${maxElements} elements`);
      if (stack.length >= maxDepth) throw new XmlError(`nested deeper than ${maxDepth}`);
      const parent = stack.at(-1);
      const scope = new Map(parent?.scope ?? []);
      const raw: [string, string][] = [];
      for (const match of inner.slice(qname.length).matchAll(attributePattern)) {
        const name = match[1] ?? '';
        const value = decodeEntities(match[2] ?? match[3] ?? '');
        if (name === 'xmlns') scope.set('', value);
        else if (name.startsWith('xmlns:')) scope.set(name.slice(6), value);
        else raw.push([name, value]);
      }
      const [prefix, local] = splitQName(qname);
      const ns = scope.get(prefix);
      if (ns === undefined && prefix !== '') throw new XmlError(`undeclared prefix ${prefix}`);
      const attrs: Record<string, string> = {};
      for (const [name, value] of raw) attrs[splitQName(name)[1]] = value;
      const element: XmlElement = { name: local, ns: ns ?? '', attrs, children: [], text: '', scope };
      if (parent === undefined) {
        if (root !== undefined) throw new XmlError('more than one root element');
        root = element;
      } else parent.children.push(element);
      if (!selfClosing) stack.push(element);
      at = end + 1;
    }
  }
  if (stack.length > 0) throw new XmlError(`unclosed element ${stack.at(-1)?.name}`);
  if (root === undefined) throw new XmlError('no root element');
  return root;
}

/** The first child with this local name. */
export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((candidate) => candidate.name === name);
}

export function children(element: XmlElement | undefined, name: string): XmlElement[] {
  return element?.children.filter((candidate) => candidate.name === name) ?? [];
}

/** The first descendant with this local name, depth first. */
export function descendant(element: XmlElement | undefined, name: string): XmlElement | undefined {
  if (element === undefined) return undefined;
  for (const candidate of element.children) {
    if (candidate.name === name) return candidate;
    const deeper = descendant(candidate, name);
    if (deeper !== undefined) return deeper;
  }
  return undefined;
}

/** Every descendant with this local name, in document order. */
export function descendants(element: XmlElement | undefined, name: string): XmlElement[] {
  const found: XmlElement[] = [];
  const visit = (node: XmlElement): void => {
    for (const candidate of node.children) {
      if (candidate.name === name) found.push(candidate);
      visit(candidate);
    }
  };
  if (element !== undefined) visit(element);
  return found;
}

/** Trimmed text along a path of local names (`textAt(el, 'Media', 'XAddr')`); undefined when a step is missing. */
export function textAt(element: XmlElement | undefined, ...path: string[]): string | undefined {
  let node = element;
  for (const name of path) node = child(node, name);
  return node?.text.trim();
}

/** Escapes text for an element or a double-quoted attribute. */
export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** An attribute by local name. */
export function attrOf(element: XmlElement | undefined, name: string): string | undefined {
  return element?.attrs[name];
}
