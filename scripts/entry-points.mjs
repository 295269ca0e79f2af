// The package's entry points as package.json "exports" declares them, checked for the shape
// every entry must have: ESM and CJS, each with its own types. Shared by the build and the
// pack check, so both handle every subpath the same way.

/**
 * @param {{ exports: Record<string, unknown> }} pkg
 * @returns {{ subpath: string, specifier: string, cjs: string, cjsTypes: string, esm: string, esmTypes: string }[]}
 */
export function entryPoints(pkg) {
  const entries = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (subpath === './package.json') continue;
    const cjs = target?.require?.default;
    const cjsTypes = target?.require?.types;
    const esm = target?.import?.default;
    const esmTypes = target?.import?.types;
    if (![cjs, cjsTypes, esm, esmTypes].every((p) => typeof p === 'string')) {
      throw new Error(
        `package.json exports["${subpath}"] needs import.{types,default} and require.{types,default}`,
      );
    }
    const stem = cjs.replace(/\.js$/, '');
    if (
      !cjs.startsWith('./dist/') ||
      cjsTypes !== `${stem}.d.ts` ||
      esm !== `${stem}.mjs` ||
      esmTypes !== `${stem}.d.mts`
    ) {
      throw new Error(
        `package.json exports["${subpath}"] must point at ${stem}.{js,d.ts,mjs,d.mts} under ./dist/`,
      );
    }
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
    entries.push({ subpath, specifier, cjs, cjsTypes, esm, esmTypes });
  }
  return entries;
}
