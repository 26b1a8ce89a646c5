// Validate Dashboard Studio definitions with Splunk's own packages (no DOM needed).
// Usage: node validate.mjs DEFINITION.json [...]   Prints one JSON object per file; exit 1 on any error.
// The preset schema (which needs a DOM) is checked inside the browser by render/app.jsx.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { defaultSchema } = require('@splunk/dashboard-definition');
const {
    DashboardValidator,
    checkVisualizationsInStructure,
    checkInputsInStructure,
    checkDuplicateTokens,
} = require('@splunk/dashboard-validation');
const { migrateToTabsLayout } = require('@splunk/dashboard-utils');

let failed = false;
for (const file of process.argv.slice(2)) {
    const started = Date.now();
    const definition = JSON.parse(readFileSync(file, 'utf8'));
    // Splunk migrates the classic grid layout to the tabs layout before validating; do the same.
    const migration = migrateToTabsLayout({ definition });
    if (!migration.success) {
        failed = true;
        console.log(JSON.stringify({ file, errors: [{ message: `layout migration: ${migration.reason}` }] }));
        continue;
    }
    const migrated = migration.definition;
    const validator = new DashboardValidator();
    const schemaError = validator.setSchema(defaultSchema);
    const errors = [
        ...(schemaError ? [{ message: String(schemaError) }] : []),
        ...(validator.validate(migrated) || []),
        ...checkVisualizationsInStructure(migrated),
        ...checkInputsInStructure(migrated),
        ...checkDuplicateTokens(migrated),
    ];
    if (errors.length) failed = true;
    console.log(JSON.stringify({ file, errors, ms: Date.now() - started }));
}
process.exit(failed ? 1 : 0);
