// Browser page that renders one Dashboard Studio definition with Splunk's dashboard framework.
// The test harness (tests/dashboard/harness.py) writes window.__DASHBOARD__ into data.js:
//   { definition, theme }  where every data source is already a `ds.test` holding the rows that the
//   data source's own SPL returned in the replay evaluator.
// The page also validates the definition against the preset schema (which needs a DOM) and writes
// the outcome into <pre id="preset-validation">, read back by the test through --dump-dom.
import React from 'react';
import { createRoot } from 'react-dom/client';
import DashboardCore from '@splunk/dashboard-core';
import { DashboardContextProvider } from '@splunk/dashboard-context';
import EnterpriseViewOnlyPreset from '@splunk/dashboard-presets/EnterpriseViewOnlyPreset';
import { createSchemaBasedOnPresets } from '@splunk/dashboard-definition';
import { DashboardValidator } from '@splunk/dashboard-validation';
import { migrateToTabsLayout } from '@splunk/dashboard-utils';
import SplunkThemeProvider from '@splunk/themes/SplunkThemeProvider';

const { definition, theme = 'dark' } = window.__DASHBOARD__;

function presetValidation(def) {
    const migration = migrateToTabsLayout({ definition: def });
    if (!migration.success) {
        return [{ message: `layout migration: ${migration.reason}` }];
    }
    const validator = new DashboardValidator();
    const schemaError = validator.setSchema(createSchemaBasedOnPresets(EnterpriseViewOnlyPreset));
    if (schemaError) {
        return [{ message: String(schemaError) }];
    }
    return validator.validate(migration.definition) || [];
}

function report(errors) {
    const pre = document.getElementById('preset-validation');
    pre.textContent = JSON.stringify(errors);
}

try {
    report(presetValidation(window.__DASHBOARD__.original || definition));
} catch (e) {
    report([{ message: `preset validation crashed: ${e}` }]);
}

// ?section=VIZ_ID shifts the page up so that the panel VIZ_ID is at the top of the viewport
// (headless Chromium screenshots only the viewport).
const section = new URLSearchParams(window.location.search).get('section');
function showSection() {
    const panel = section && document.getElementById(section);
    if (!panel || panel.getBoundingClientRect().height === 0) {
        setTimeout(showSection, 250);
        return;
    }
    const root = document.getElementById('root');
    const top = panel.getBoundingClientRect().top - root.getBoundingClientRect().top;
    root.style.marginTop = `-${Math.max(0, top - 8)}px`;
}
if (section) {
    setTimeout(showSection, 250);
}

createRoot(document.getElementById('root')).render(
    <SplunkThemeProvider family="enterprise" colorScheme={theme} density="compact">
        <DashboardContextProvider preset={EnterpriseViewOnlyPreset} initialDefinition={definition}>
            <DashboardCore width="100%" height="auto" />
        </DashboardContextProvider>
    </SplunkThemeProvider>
);
