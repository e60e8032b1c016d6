// deps: the architecture check. Given the project's static libraries and its source tree, fails
// (exit 1, naming the files) when
//   1. two or more object files call each other in a circle (symbol level: a file that uses a
//      function or variable another file defines depends on that file),
//   2. two or more libraries depend on each other in a circle (the layers of CMakeLists.txt), or
//   3. headers include each other in a circle (include guards would hide it).
// It first checks itself on small graphs with and without a cycle, so it cannot pass by finding
// nothing. Usage: node deps.mjs SOURCE_DIR LIB.a...
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

// cycles: the strongly connected components with more than one node (Tarjan), each sorted.
export function cycles(edges) {
    let index = 0;
    const stack = [], onStack = new Set(), idx = new Map(), low = new Map(), out = [];
    const visit = (v) => {
        idx.set(v, index);
        low.set(v, index++);
        stack.push(v);
        onStack.add(v);
        for (const w of edges.get(v) || []) {
            if (!idx.has(w)) {
                visit(w);
                low.set(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.has(w)) {
                low.set(v, Math.min(low.get(v), idx.get(w)));
            }
        }
        if (low.get(v) === idx.get(v)) {
            const c = [];
            let w;
            do {
                w = stack.pop();
                onStack.delete(w);
                c.push(w);
            } while (w !== v);
            if (c.length > 1) out.push(c.sort());
        }
    };
    for (const v of edges.keys()) if (!idx.has(v)) visit(v);
    return out;
}

function graph(pairs) {
    const g = new Map();
    for (const [a, b] of pairs) {
        if (!g.has(a)) g.set(a, new Set());
        if (!g.has(b)) g.set(b, new Set());
        g.get(a).add(b);
    }
    return g;
}

function selfTest() {
    const bad = cycles(graph([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']]));
    const good = cycles(graph([['a', 'b'], ['b', 'c'], ['a', 'c'], ['c', 'd']]));
    if (bad.length !== 1 || bad[0].join() !== 'a,b,c' || good.length !== 0) {
        console.error('deps: self-test failed: the cycle finder is wrong');
        process.exit(1);
    }
}

// Object level: nm -A on each archive; "lib.a:obj.o: U sym" uses, "T/D/B/R sym" defines.
function objectGraph(libs) {
    const defs = new Map(), uses = new Map(), libOf = new Map();
    for (const lib of libs) {
        const text = execFileSync('nm', ['-A', lib], { encoding: 'utf8', maxBuffer: 1 << 28 });
        const lname = basename(lib).replace(/^lib/, '').replace(/\.a$/, '');
        for (const line of text.split('\n')) {
            const m = line.match(/^[^:]+:([^:]+):\s*(?:[0-9a-f]+)?\s+([A-Za-z])\s+(\S+)$/);
            if (!m) continue;
            const obj = `${lname}/${m[1].replace(/\.o$/, '')}`;
            libOf.set(obj, lname);
            if (!uses.has(obj)) uses.set(obj, new Set());
            if (m[2] === 'U') uses.get(obj).add(m[3]);
            else if ('TDBRV'.includes(m[2])) {
                if (defs.has(m[3]) && defs.get(m[3]) !== obj)
                    throw new Error(`${m[3]} defined in ${defs.get(m[3])} and ${obj}`);
                defs.set(m[3], obj);
            }
        }
    }
    const files = new Map(), layers = new Map(), why = new Map();
    for (const [obj, syms] of uses) {
        files.set(obj, files.get(obj) || new Set());
        const la = libOf.get(obj);
        layers.set(la, layers.get(la) || new Set());
        for (const s of syms) {
            const d = defs.get(s);
            if (!d || d === obj) continue;
            files.get(obj).add(d);
            why.set(`${obj} ${d}`, s);
            const lb = libOf.get(d);
            if (lb !== la) {
                layers.get(la).add(lb);
                why.set(`${la} ${lb}`, `${obj} uses ${s} of ${d}`);
            }
        }
    }
    return { files, layers, why, objects: uses.size };
}

function headerGraph(root) {
    const g = new Map();
    const walk = (dir) => {
        for (const name of readdirSync(dir)) {
            if (name === 'node_modules' || name.startsWith('.')) continue;
            const p = join(dir, name);
            if (statSync(p).isDirectory()) walk(p);
            else if (name.endsWith('.h')) {
                const inc = new Set();
                for (const m of readFileSync(p, 'utf8').matchAll(/^#include "([^"]+)"/gm))
                    inc.add(basename(m[1]));
                g.set(name, inc);
            }
        }
    };
    for (const d of ['include', 'src', 'tests']) walk(join(root, d));
    for (const [h, inc] of g) for (const i of inc) if (!g.has(i)) inc.delete(i);
    return g;
}

function report(kind, found, edges, why) {
    for (const c of found) {
        console.error(`deps: ${kind} in a circle: ${c.join(' ')}`);
        for (const a of c)
            for (const b of edges.get(a))
                if (c.includes(b))
                    console.error(`   ${a} -> ${b}${why ? ` (${why.get(`${a} ${b}`)})` : ''}`);
    }
    return found.length;
}

selfTest();
const [root, ...libs] = process.argv.slice(2);
if (!root || libs.length === 0) {
    console.error('usage: node deps.mjs SOURCE_DIR LIB.a...');
    process.exit(2);
}
const { files, layers, why, objects } = objectGraph(libs);
const headers = headerGraph(root);
let bad = 0;
bad += report('files call each other', cycles(files), files, why);
bad += report('libraries depend on each other', cycles(layers), layers, why);
bad += report('headers include each other', cycles(headers), headers, null);
if (objects < 20 || headers.size < 20) {
    console.error(`deps: only ${objects} objects and ${headers.size} headers read: wrong inputs`);
    process.exit(1);
}
const layerList = [...layers].map(([l, d]) => `${l} -> ${[...d].sort().join(',') || '-'}`);
console.log(`deps: ${objects} files, ${layers.size} libraries, ${headers.size} headers, ` +
            (bad ? `${bad} cycle(s)` : 'no cycle'));
for (const l of layerList.sort()) console.log(`  ${l}`);
process.exit(bad ? 1 : 0);
