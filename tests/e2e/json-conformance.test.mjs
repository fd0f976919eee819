// The JSON service's conformance suite: every case of tests/e2e/json-conformance.json (written for
// this project: numbers, escapes, surrogates, the byte order mark, whitespace, structure, nesting,
// duplicate keys, invalid UTF-8, control characters, large and deep documents) parsed by
// `parseJson` in every mode (handle, columns with and without `fields`, objects) from every input
// kind (a string, bytes, a Blob), and compared in the page with `JSON.parse` of the same text —
// for bytes and a Blob, of what `TextDecoder` makes of them, as `Response.json()` reads them.
//
//   node --test tests/e2e/json-conformance.test.mjs      (after `npm run build`)
//
// What "the same" means, mode by mode (docs/json.md, "What conforms to what"):
// - handle: `kind`, `length`, `len('')`, `get('')`, `slice` of an array and `get` of each key of
//   an object equal what JSON.parse gives (deep, numbers by Object.is, keys in JSON.parse's order);
// - columns: for an array, the length and every column equal the columns computed here from
//   JSON.parse's value by the documented typing rules; any other value rejects with a JsonError;
// - objects: for an array, JSON.parse's array; any other value rejects with a JsonError;
// - text JSON.parse rejects, every mode rejects with a JsonError whose `offset` is in the source's
//   units (UTF-16 for a string, bytes otherwise) and `byteOffset` in bytes, and the two agree.
// A JS string with a raw lone surrogate (case flag `wellFormed`) cannot travel as UTF-8: it is
// compared with JSON.parse(text.toWellFormed()). Each case's own `expect` is checked against
// JSON.parse too, so a case that is wrong about JSON.parse fails.
//
// One page per engine (cross-origin isolation plays no part in parsing); a few seconds each.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { serve } from '../../scripts/serve.mjs';
import { CSP, launchOptions, ROOT, WWW } from './support.mjs';

const CASES = JSON.parse(readFileSync(path.join(ROOT, 'tests', 'e2e', 'json-conformance.json'), 'utf8')).cases;

let server = null;
before(async () => {
  server = await serve({ root: WWW, port: 0, coi: true, csp: CSP });
});
after(async () => {
  await server?.close();
});

/** Runs in the page: every case, every input kind and mode. Returns the problems found, as text. */
async function conformance(casesJson) {
  const { parseJson } = window.__demo;
  const cases = JSON.parse(casesJson);
  const problems = [];
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  const hexBytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
  const generate = (g) => {
    switch (g.kind) {
      case 'deep-arrays': return '['.repeat(g.depth) + (g.unclosed ? '' : ']'.repeat(g.depth));
      case 'deep-objects': return '{"a":'.repeat(g.depth) + '1' + '}'.repeat(g.depth);
      case 'many-keys': return `{${Array.from({ length: g.keys }, (_, i) => `"k${i}":${i}`).join(',')}}`;
      case 'long-string': return JSON.stringify('aé😀\n'.repeat(Math.ceil(g.units / 5)));
      case 'many-elements': return `[${Array.from({ length: g.elements }, (_, i) => i % 7 === 0 ? -i / 8 : i).join(',')}]`;
      default: throw new Error(`unknown generator ${g.kind}`);
    }
  };
  const attempt = (f) => {
    try {
      return { ok: true, value: f() };
    } catch (error) {
      return { ok: false, error };
    }
  };
  const kindOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  const isRecord = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  /** Deep equality without recursion (100,000 levels): numbers by Object.is, keys in order. */
  const same = (a, b) => {
    const stack = [[a, b]];
    while (stack.length) {
      const [x, y] = stack.pop();
      if (typeof x !== typeof y) return false;
      if (x === null || y === null || typeof x !== 'object') {
        if (!Object.is(x, y)) return false;
        continue;
      }
      if (Array.isArray(x) !== Array.isArray(y)) return false;
      if (Array.isArray(x)) {
        if (x.length !== y.length) return false;
        for (let i = 0; i < x.length; i++) stack.push([x[i], y[i]]);
      } else {
        const kx = Object.keys(x);
        const ky = Object.keys(y);
        if (kx.length !== ky.length) return false;
        for (let i = 0; i < kx.length; i++) {
          if (kx[i] !== ky[i]) return false;
          stack.push([x[kx[i]], y[ky[i]]]);
        }
      }
    }
    return true;
  };
  const show = (v) => {
    const s = attempt(() => JSON.stringify(v));
    const text = s.ok ? String(s.value) : `(${kindOf(v)})`;
    return text.length > 120 ? `${text.slice(0, 120)}…` : text;
  };
  const settle = (p) => p.then((value) => ({ ok: true, value }), (error) => ({ ok: false, error }));

  /** The columns the docs promise for `array`, from JSON.parse's value. */
  const expectedColumns = (array, fields) => {
    const out = {};
    for (const f of fields) {
      const values = array.map((r) => (isRecord(r) && Object.hasOwn(r, f) ? r[f] : undefined));
      const first = values.find((v) => v !== null && v !== undefined);
      if (typeof first === 'number') out[f] = { kind: 'number', values: values.map((v) => (typeof v === 'number' ? v : NaN)) };
      else if (typeof first === 'string') out[f] = { kind: 'text', values: values.map((v) => (typeof v === 'string' ? v.toWellFormed() : '')) };
      else if (typeof first === 'boolean') out[f] = { kind: 'bool', values: values.map((v) => (v === true ? 1 : v === false ? 0 : 2)) };
      else out[f] = null;
    }
    return out;
  };
  const columnsAsPlain = (columns) => {
    const out = {};
    for (const [f, c] of Object.entries(columns)) {
      if (c instanceof Float64Array) out[f] = { kind: 'number', values: [...c] };
      else if (c?.kind === 'text') {
        const values = [];
        for (let i = 0; i + 1 < c.offsets.length; i++) values.push(decoder.decode(c.utf8.subarray(c.offsets[i], c.offsets[i + 1])));
        out[f] = { kind: 'text', values };
      } else if (c?.kind === 'bool') out[f] = { kind: 'bool', values: [...c.values] };
      else out[f] = c;
    }
    return out;
  };

  /** A rejection must be a JsonError; a syntax error's positions must be sane and agree. */
  const checkError = (label, error, input, syntax) => {
    if (error?.name !== 'JsonError') {
      problems.push(`${label}: rejected with ${error?.name}: ${error?.message}, expected a JsonError`);
      return;
    }
    if (!syntax) return;
    const { offset, line, column, byteOffset } = error;
    if (![offset, line, column, byteOffset].every(Number.isInteger) || line < 1 || column < 1) {
      problems.push(`${label}: positions ${JSON.stringify({ offset, line, column, byteOffset })}`);
      return;
    }
    if (typeof input === 'string') {
      if (offset > input.length) problems.push(`${label}: offset ${offset} beyond the string's ${input.length} units`);
      // UTF-16 units and bytes name the same place.
      else if (encoder.encode(input.slice(0, offset)).length !== byteOffset) {
        problems.push(`${label}: offset ${offset} (UTF-16) is byte ${encoder.encode(input.slice(0, offset)).length}, byteOffset says ${byteOffset}`);
      }
      const lineStart = input.lastIndexOf('\n', offset - 1) + 1;
      const lines = input.slice(0, offset).split('\n').length;
      if (line !== lines || column !== offset - lineStart + 1) problems.push(`${label}: line ${line} column ${column}, the string says ${lines}:${offset - lineStart + 1}`);
    } else if (offset !== byteOffset) {
      problems.push(`${label}: offset ${offset} and byteOffset ${byteOffset} differ for bytes`);
    }
  };

  let runs = 0;
  const slowest = [];
  for (const c of cases) {
    const caseStart = performance.now();
    const bytes = c.hex !== undefined ? hexBytes(c.hex) : encoder.encode(c.generate ? generate(c.generate) : c.text);
    const text = c.hex !== undefined ? decoder.decode(bytes) : c.generate ? generate(c.generate) : c.text;
    const primary = attempt(() => JSON.parse(text));
    if (c.expect === 'accept' && !primary.ok) problems.push(`${c.id}: the case says accept, JSON.parse throws ${primary.error}`);
    if (c.expect === 'reject' && primary.ok) problems.push(`${c.id}: the case says reject, JSON.parse gives ${show(primary.value)}`);
    if (c.text !== undefined && Boolean(c.wellFormed) === c.text.isWellFormed()) problems.push(`${c.id}: flag wellFormed is ${c.wellFormed} for a string that is ${c.text.isWellFormed() ? '' : 'not '}well-formed`);

    const inputs = [
      ['string', () => text, attempt(() => JSON.parse(c.wellFormed ? text.toWellFormed() : text))],
      ['bytes', () => bytes.slice(), attempt(() => JSON.parse(decoder.decode(bytes)))],
      ['blob', () => new Blob([bytes]), attempt(() => JSON.parse(decoder.decode(bytes)))],
    ];
    for (const [input, make, ref] of inputs) {
      const label = (mode) => `${c.id} [${input}, ${mode}]`;
      const source = make();
      const errorInput = typeof source === 'string' ? source : bytes;
      const isArray = ref.ok && Array.isArray(ref.value);

      // handle
      runs++;
      const h = await settle(parseJson(make(), { mode: 'handle' }));
      if (!ref.ok) {
        if (h.ok) {
          problems.push(`${label('handle')}: accepted (kind ${h.value.kind}), JSON.parse throws ${ref.error}`);
          h.value.close();
        } else checkError(label('handle'), h.error, errorInput, true);
      } else if (!h.ok) {
        problems.push(`${label('handle')}: rejected with ${h.error?.name}: ${h.error?.message}; JSON.parse gives ${show(ref.value)}`);
      } else {
        const doc = h.value;
        const v = ref.value;
        const kind = kindOf(v);
        const length = kind === 'array' ? v.length : kind === 'object' ? Object.keys(v).length : 0;
        if (doc.kind !== kind) problems.push(`${label('handle')}: kind ${doc.kind}, JSON.parse ${kind}`);
        if (doc.length !== length) problems.push(`${label('handle')}: length ${doc.length}, JSON.parse ${length}`);
        if (['array', 'object', 'string'].includes(kind)) {
          const n = await doc.len('');
          if (n !== v.length && n !== length) problems.push(`${label('handle')}: len('') ${n}, JS ${kind === 'string' ? v.length : length}`);
          else if (kind === 'string' && n !== v.length) problems.push(`${label('handle')}: len('') ${n}, JS .length ${v.length}`);
        }
        const whole = await settle(doc.get(''));
        if (!whole.ok || !same(whole.value, v)) problems.push(`${label('handle')}: get('') ${whole.ok ? show(whole.value) : whole.error}, JSON.parse ${show(v)}`);
        if (kind === 'array' && v.length <= 10_000) {
          const page = await settle(doc.slice('', 0, v.length));
          if (!page.ok || !same(page.value, v)) problems.push(`${label('handle')}: slice ${page.ok ? show(page.value) : page.error}, JSON.parse ${show(v)}`);
        }
        if (kind === 'object') {
          for (const k of Object.keys(v).filter((k) => k.isWellFormed()).slice(0, 20)) {
            const got = await settle(doc.get(`/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`));
            if (!got.ok || !same(got.value, v[k])) problems.push(`${label('handle')}: get of key ${JSON.stringify(k)}: ${got.ok ? show(got.value) : got.error}, JSON.parse ${show(v[k])}`);
          }
        }
        doc.close();
      }

      // columns: default fields (the document path), then the same fields given (one pass)
      const fields = isArray && isRecord(ref.value[0])
        ? Object.keys(ref.value[0]).filter((k) => ['number', 'string', 'boolean'].includes(typeof ref.value[0][k]))
        : [];
      for (const given of [false, true]) {
        runs++;
        const mode = given ? 'columns, fields' : 'columns';
        const options = given ? { mode: 'columns', fields: fields.length ? fields : ['x'] } : { mode: 'columns' };
        const r = await settle(parseJson(make(), options));
        if (!isArray) {
          if (r.ok) problems.push(`${label(mode)}: resolved with ${r.value.length} records; ${ref.ok ? `JSON.parse gives ${kindOf(ref.value)}, not an array` : `JSON.parse throws ${ref.error}`}`);
          else checkError(label(mode), r.error, errorInput, !ref.ok);
          continue;
        }
        if (!r.ok) {
          problems.push(`${label(mode)}: rejected with ${r.error?.name}: ${r.error?.message}`);
          continue;
        }
        const asked = given ? options.fields : fields;
        if (r.value.length !== ref.value.length) problems.push(`${label(mode)}: length ${r.value.length}, JSON.parse ${ref.value.length}`);
        const names = Object.keys(r.value.columns);
        if (!same([...names].sort(), [...asked].sort())) problems.push(`${label(mode)}: fields ${JSON.stringify(names)}, expected ${JSON.stringify(asked)}`);
        const expected = expectedColumns(ref.value, asked);
        const actual = columnsAsPlain(r.value.columns);
        for (const f of asked) {
          if (!same(actual[f], expected[f])) problems.push(`${label(mode)}: column ${JSON.stringify(f)} ${show(actual[f])}, expected ${show(expected[f])}`);
        }
      }

      // objects
      runs++;
      const o = await settle(parseJson(make(), { mode: 'objects' }));
      if (!isArray) {
        if (o.ok) problems.push(`${label('objects')}: resolved with ${show(o.value)}; ${ref.ok ? `JSON.parse gives ${kindOf(ref.value)}, not an array` : `JSON.parse throws ${ref.error}`}`);
        else checkError(label('objects'), o.error, errorInput, !ref.ok);
      } else if (!o.ok) {
        problems.push(`${label('objects')}: rejected with ${o.error?.name}: ${o.error?.message}`);
      } else if (!same(o.value, ref.value)) {
        problems.push(`${label('objects')}: ${show(o.value)}, JSON.parse ${show(ref.value)}`);
      }
    }
    slowest.push([Math.round(performance.now() - caseStart), c.id]);
  }
  slowest.sort((a, b) => b[0] - a[0]);
  return JSON.stringify({ runs, problems, slowest: slowest.slice(0, 12) });
}

for (const engine of ['chrome', 'firefox']) {
  describe(`${engine}: JSON conformance`, { timeout: 300_000 }, () => {
    let browser = null;
    let launchError = null;
    let profile = null;

    before(async () => {
      profile = mkdtempSync(path.join(tmpdir(), `wasm-isolates-e2e-conformance-${engine}-`));
      try {
        browser = await puppeteer.launch({ ...launchOptions(engine, profile, { protocolTimeout: 240_000 }), timeout: 60_000 });
      } catch (err) {
        launchError = err;
      }
    });
    after(async () => {
      await browser?.close().catch(() => {});
      if (profile) rmSync(profile, { recursive: true, force: true });
    });

    test(`${engine}: ${CASES.length} cases × (string, bytes, Blob) × (handle, columns, columns with fields, objects) agree with JSON.parse`, { timeout: 240_000 }, async (t) => {
      assert.ok(browser, `could not launch ${engine}: ${launchError?.stack ?? launchError}`);
      const page = await browser.newPage();
      const pageErrors = [];
      page.on('pageerror', (err) => pageErrors.push(String(err?.stack ?? err)));
      try {
        await page.goto(server.url, { waitUntil: 'load', timeout: 60_000 });
        await page.waitForFunction(() => window.__demo !== undefined, { timeout: 30_000 });
        await page.evaluate(() => window.__demo.ready);
        const started = Date.now();
        const { runs, problems, slowest } = JSON.parse(await page.evaluate(conformance, JSON.stringify(CASES)));
        t.diagnostic(`${runs} parses in ${Date.now() - started} ms; slowest cases (ms): ${JSON.stringify(slowest)}`);
        assert.equal(runs, CASES.length * 3 * 4, 'every case, input and mode ran');
        assert.deepEqual(problems, []);
        assert.deepEqual(pageErrors, []);
      } finally {
        await page.close().catch(() => {});
      }
    });
  });
}
