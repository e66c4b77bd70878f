// Enforces the dependency direction from DESIGN.md and lists every violation:
// - emulator/ speaks HTTP only: it imports nothing from src/;
// - src/core/ is pure: it imports only from src/core/, and Node builtins at most as types.
// Uses the TypeScript parser so that type-only imports, re-exports and dynamic imports are all seen.
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

// The optional argument points at another tree, for the checker's own tests.
const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), ".."));
const packageName = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).name;
const SKIP_DIRS = new Set(["node_modules", "dist", "coverage", "test-output"]);
const srcDir = path.join(root, "src");
const coreDir = path.join(srcDir, "core");
const emulatorDir = path.join(root, "emulator");

const files = findTypeScript(root);
const violations = files.flatMap((file) => checkFile(file));
if (violations.length > 0) {
  console.error(`Module boundary violations (${violations.length}):`);
  for (const v of violations) console.error(`  ${v}`);
  process.exit(1);
}
console.log(`Module boundaries OK (${files.length} TypeScript files checked).`);

function checkFile(file) {
  const inEmulator = isInside(file, emulatorDir);
  const inCore = isInside(file, coreDir);
  if (!inEmulator && !inCore) return [];
  const found = [];
  for (const { specifier, typeOnly, line } of importsOf(file)) {
    const where = `${path.relative(root, file)}:${line}`;
    const target = specifier.startsWith(".") ? path.resolve(path.dirname(file), specifier) : undefined;
    const selfReference = specifier === packageName || specifier.startsWith(`${packageName}/`);
    if (inEmulator && ((target !== undefined && isInside(target, srcDir)) || selfReference)) {
      found.push(`${where}: emulator/ must not import from src/ ("${specifier}")`);
    }
    if (inCore) {
      if (target !== undefined) {
        if (!isInside(target, coreDir))
          found.push(`${where}: src/core/ imports outside src/core/ ("${specifier}")`);
      } else if (isBuiltin(specifier)) {
        if (!typeOnly)
          found.push(
            `${where}: src/core/ imports Node builtin "${specifier}" (only \`import type\` is allowed)`,
          );
      } else {
        found.push(
          `${where}: src/core/ imports package "${specifier}" (core imports nothing outside itself)`,
        );
      }
    }
  }
  return found;
}

/** Every module specifier in the file, with whether the import disappears at runtime. */
function importsOf(file) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found = [];
  const add = (node, literal, typeOnly) => {
    if (literal && ts.isStringLiteralLike(literal)) {
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      found.push({ specifier: literal.text, typeOnly, line });
    }
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      add(node, node.moduleSpecifier, isTypeOnlyImport(node.importClause));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node, node.moduleSpecifier, node.isTypeOnly || allTypeOnly(node.exportClause));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal, true);
    } else if (ts.isCallExpression(node) && isImportOrRequire(node.expression)) {
      add(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function isTypeOnlyImport(clause) {
  if (clause === undefined) return false; // `import "x"` runs x
  if (clause.isTypeOnly) return true;
  return clause.name === undefined && allTypeOnly(clause.namedBindings);
}

function allTypeOnly(bindings) {
  const elements =
    bindings && (ts.isNamedImports(bindings) || ts.isNamedExports(bindings)) ? bindings.elements : [];
  return elements.length > 0 && elements.every((e) => e.isTypeOnly);
}

function isImportOrRequire(expression) {
  return (
    expression.kind === ts.SyntaxKind.ImportKeyword ||
    (ts.isIdentifier(expression) && expression.text === "require")
  );
}

function isBuiltin(specifier) {
  return specifier.startsWith("node:") || builtinModules.includes(specifier.split("/")[0] ?? "");
}

function isInside(file, dir) {
  const relative = path.relative(dir, file);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

function findTypeScript(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || SKIP_DIRS.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTypeScript(full));
    else if (entry.isFile() && /\.[cm]?tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts"))
      found.push(full);
  }
  return found.sort();
}
