/**
 * swc compiles ESM exports to CommonJS getters (`Object.defineProperty(exports, name, { get })`), which
 * keep ESM's live bindings. Laneway reads a service module's exports once, right after its top-level
 * code has run, so a getter buys nothing there, and it costs: V8 compiles every getter (and the
 * `_export` helper) in every module on every server, then compiles each getter again lazily on its
 * first call. For 1,000 small services that is about 40% of the time a server spends loading them.
 *
 * `plainExports` turns the getter prologue swc writes for plain local and re-exported bindings into
 * assignments appended after the module's own code (`exports.name = binding;`), where every binding is
 * initialised. Anything it does not recognise exactly (`export *`, a computed name, a comment before
 * the prologue, another swc output shape) is returned unchanged, so the worst case is the old cost,
 * never a different module. Line numbers of the module's code stay the same: the removed prologue is
 * replaced by as many empty lines.
 */
const HEAD = '"use strict";\nObject.defineProperty(exports, "__esModule", {\n    value: true\n});\n';

// `export default x` alone, or a single named export.
const SINGLE =
  /^Object\.defineProperty\(exports, ("(?:[^"\\\n]|\\.)*"), \{\n {4}enumerable: true,\n {4}get: function\(\) \{\n {8}return ([^;\n]+);\n {4}\}\n\}\);\n/;

// Several exports: the `_export` helper and one getter per name.
const HELPER =
  'function _export(target, all) {\n    for(var name in all)Object.defineProperty(target, name, {\n        enumerable: true,\n        get: Object.getOwnPropertyDescriptor(all, name).get\n    });\n}\n_export(exports, {\n';
const ENTRY = /^ {4}get ([A-Za-z_$][\w$]*|"(?:[^"\\\n]|\\.)*") \(\) \{\n {8}return ([^;\n]+);\n {4}\}(,?)\n/;
const END = '});\n';

// What a getter may return: a binding of the module or a member of a required module.
const BINDING = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)?$/;

export function plainExports(code: string): string {
  if (!code.startsWith(HEAD)) return code;
  let rest = code.slice(HEAD.length);
  const exports: { key: string; value: string }[] = [];
  let removed = '';
  const single = SINGLE.exec(rest);
  if (single) {
    exports.push({ key: JSON.parse(single[1]!) as string, value: single[2]! });
    removed = single[0];
  } else if (rest.startsWith(HELPER)) {
    let at = HELPER.length;
    for (;;) {
      const entry = ENTRY.exec(rest.slice(at));
      if (!entry) return code;
      const key = entry[1]!.startsWith('"') ? (JSON.parse(entry[1]!) as string) : entry[1]!;
      exports.push({ key, value: entry[2]! });
      at += entry[0].length;
      if (entry[3] !== ',') break;
    }
    if (!rest.startsWith(END, at)) return code;
    removed = rest.slice(0, at + END.length);
  } else {
    return code;
  }
  rest = rest.slice(removed.length);
  // `export *` defines getters of its own, which an assignment could not overwrite; swc's helpers for
  // it (and anything else named like them) leave the module as it was.
  if (rest.includes('_export')) return code;
  for (const { key, value } of exports) {
    if (key === '__proto__' || !BINDING.test(value)) return code;
  }
  const lines = removed.split('\n').length - 1;
  const assignments = exports.map(({ key, value }) => `exports[${JSON.stringify(key)}] = ${value};`).join('\n');
  return `${HEAD}${'\n'.repeat(lines)}${rest}\n${assignments}\n`;
}
