/*
 * The settings page of the malicious_image app (appserver/templates/settings.html).
 *
 * Plain JavaScript, no library. Everything goes through splunkd's own REST API, reached through
 * Splunk Web's proxy /<locale>/splunkd/__raw/servicesNS/nobody/malicious_image/... (the endpoints
 * are listed in default/web.conf [expose:*]); Splunk Web wants the X-Splunk-Form-Key header, the
 * value of the splunkweb_csrf_token_<port> cookie, on every POST and DELETE.
 *
 * - data/inputs/security_content[/<name>]: the input's settings. splunkd runs the input's own
 *   validation (bin/security_content.py --validate-arguments) and writes local/inputs.conf; a
 *   rejected value comes back as a 400 whose message is shown as it is.
 * - data/inputs/security_content/_new: which settings the installed input takes; a setting the
 *   input does not declare is not shown (splunkd would refuse it).
 * - storage/passwords (realm malicious_image, names github_token and proxy_password): secrets are
 *   written, replaced or removed, never read back: the page asks only whether an entry exists,
 *   with f=username so that splunkd leaves the password out of its answer.
 */
(function () {
  'use strict';

  var APP = 'malicious_image';
  var SCHEME = 'security_content';
  var REALM = 'malicious_image';
  var MIN_INTERVAL = 300;
  var NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

  // Settings of the input, in the order shown. "standard" ones every modular input takes.
  var FIELDS = [
    { name: 'repository', label: 'Repository', placeholder: 'https://github.com/splunk/security_content',
      help: 'https://github.com/OWNER/NAME, or (Splunk Enterprise only) the absolute path of a security_content .tar.gz or folder on the search head.' },
    { name: 'ref', label: 'Ref', placeholder: 'develop', help: 'Branch, tag or commit SHA.' },
    { name: 'interval', label: 'Interval (seconds)', type: 'number', standard: true, placeholder: '21600',
      help: 'How often the sync runs; at least ' + MIN_INTERVAL + ' seconds. Default 21600 (6 hours).' },
    { name: 'index', label: 'Index', standard: true, placeholder: 'main', help: 'Index of the status events.' },
    { name: 'proxy', label: 'Proxy', placeholder: 'http://proxy.example.com:3128',
      help: 'http://[USER@]host:port without a password; the password goes in the secret below.' },
    { name: 'api_url', label: 'GitHub API URL', placeholder: 'https://api.github.com',
      help: 'GitHub Enterprise Server: https://HOST/api/v3.' },
    { name: 'ca_bundle', label: 'CA bundle', help: 'Absolute path of a PEM file to verify GitHub or a TLS-inspecting proxy (Splunk Enterprise only).' },
    { name: 'splunkd_ca_file', label: 'splunkd CA file', help: 'Absolute path of the CA that signed splunkd\'s certificate, when it is not the one in server.conf (Splunk Enterprise only).' },
    { name: 'splunkd_cert_name', label: 'splunkd certificate name', help: 'The name splunkd\'s certificate carries, when it is not the host name.' },
    { name: 'attack_source', label: 'ATT&CK source', placeholder: 'automatic',
      help: 'github (MITRE\'s STIX data), security_content (the catalogue shipped in the content), the https:// URL of an index.json mirror, or the absolute path of a STIX bundle. Empty: github for a repository on github.com, else security_content.' },
    { name: 'attack_version', label: 'ATT&CK version', placeholder: 'newest', help: 'An ATT&CK release such as 19.0; empty for the newest.' },
    { name: 'accept_format_change', label: 'Accept format change', type: 'checkbox',
      help: 'Sync even when upstream\'s YAML format changed beyond what this version knows (the drift guard).' }
  ];
  var SECRETS = [
    { name: 'github_token', label: 'GitHub token', help: 'Optional; raises GitHub\'s API rate limit. No scopes needed.' },
    { name: 'proxy_password', label: 'Proxy password', help: 'Optional; the password of the user named in Proxy.' }
  ];

  var state = { supported: {}, entries: [], current: null, stored: {} };
  var $ = function (id) { return document.getElementById(id); };

  // -- REST through Splunk Web ---------------------------------------------------------------
  function root() {
    var path = window.location.pathname;
    var at = path.indexOf('/app/');
    return at >= 0 ? path.slice(0, at) : '';
  }
  function nsUrl(rest) {
    return root() + '/splunkd/__raw/servicesNS/nobody/' + APP + '/' + rest;
  }
  function csrfToken() {
    var cookies = document.cookie ? document.cookie.split('; ') : [];
    var wanted = 'splunkweb_csrf_token_' + window.location.port + '=';
    var any = null;
    for (var i = 0; i < cookies.length; i++) {
      if (cookies[i].indexOf(wanted) === 0) return decodeURIComponent(cookies[i].slice(wanted.length));
      if (cookies[i].indexOf('splunkweb_csrf_token_') === 0 && any === null) {
        any = decodeURIComponent(cookies[i].slice(cookies[i].indexOf('=') + 1));
      }
    }
    return any || '';
  }
  function call(method, rest, form) {
    var url = nsUrl(rest) + (rest.indexOf('?') >= 0 ? '&' : '?') + 'output_mode=json';
    var init = { method: method, credentials: 'same-origin', headers: { 'X-Requested-With': 'XMLHttpRequest' } };
    if (method !== 'GET') init.headers['X-Splunk-Form-Key'] = csrfToken();
    if (form) {
      init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
      init.body = new URLSearchParams(form).toString();
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        return { status: response.status, ok: response.ok, body: body };
      });
    });
  }
  function messageOf(answer) {
    var messages = (answer.body && answer.body.messages) || [];
    var texts = messages.map(function (m) { return m.text; }).filter(Boolean);
    return texts.length ? texts.join('\n') : 'splunkd answered HTTP ' + answer.status;
  }
  function check(answer, what) {
    if (!answer.ok) throw new Error(what + ': ' + messageOf(answer));
    return answer;
  }

  // -- page ----------------------------------------------------------------------------------
  function show(kind, text) {
    var box = $('mi-message');
    box.hidden = !text;
    box.setAttribute('data-kind', kind);
    box.textContent = text || '';
  }
  function element(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) node.textContent = text;
    return node;
  }
  function row(id, label, input, help) {
    var div = element('div', { 'class': 'mi-row', id: 'row-' + id });
    div.appendChild(element('label', { 'for': input.id }, label));
    div.appendChild(input);
    if (help) div.appendChild(element('small', {}, help));
    return div;
  }
  function buildFields() {
    var box = $('mi-fields');
    box.textContent = '';
    FIELDS.forEach(function (field) {
      if (!field.standard && !state.supported[field.name]) return;
      var input = element('input', { id: 'field-' + field.name, name: field.name, autocomplete: 'off' });
      input.type = field.type || 'text';
      if (field.type === 'number') { input.min = String(MIN_INTERVAL); input.step = '1'; }
      if (field.placeholder) input.placeholder = field.placeholder;
      box.appendChild(row(field.name, field.label, input, field.help));
    });
    var secrets = $('mi-secret-fields');
    secrets.textContent = '';
    SECRETS.forEach(function (secret) {
      var input = element('input', { id: 'field-' + secret.name, name: secret.name, autocomplete: 'new-password' });
      input.type = 'password';
      var div = row(secret.name, secret.label, input, secret.help);
      var status = element('span', { 'class': 'mi-secret-state', id: 'state-' + secret.name });
      var remove = element('button', { type: 'button', 'class': 'mi-remove', id: 'remove-' + secret.name }, 'Remove');
      remove.addEventListener('click', function () { removeSecret(secret); });
      var line = element('small', {});
      line.appendChild(status);
      line.appendChild(remove);
      div.appendChild(line);
      secrets.appendChild(div);
    });
  }
  function isTrue(value) {
    return ['1', 'true', 't', 'yes', 'y', 'on'].indexOf(String(value).toLowerCase()) >= 0;
  }
  function fillFrom(entry) {
    state.current = entry;
    var content = entry ? entry.content || {} : {};
    $('mi-name-row').hidden = Boolean(entry);
    $('field-enabled').checked = entry ? !isTrue(content.disabled) : true;
    FIELDS.forEach(function (field) {
      var input = $('field-' + field.name);
      if (!input) return;
      var value = content[field.name];
      if (field.type === 'checkbox') input.checked = isTrue(value);
      else input.value = value === undefined || value === null ? '' : String(value);
      input.removeAttribute('aria-invalid');
    });
  }
  function showSecretStates() {
    SECRETS.forEach(function (secret) {
      var stored = Boolean(state.stored[secret.name]);
      var status = $('state-' + secret.name);
      status.setAttribute('data-stored', String(stored));
      status.textContent = stored ? 'Stored (hidden). ' : 'Not stored. ';
      $('remove-' + secret.name).hidden = !stored;
      $('field-' + secret.name).placeholder = stored ? '******** (enter a new value to replace it)' : '';
    });
  }
  function secretId(secret) {
    return encodeURIComponent(REALM + ':' + secret.name + ':');
  }

  // -- load ----------------------------------------------------------------------------------
  function loadSecrets() {
    return Promise.all(SECRETS.map(function (secret) {
      return call('GET', 'storage/passwords/' + secretId(secret) + '?f=username').then(function (answer) {
        if (answer.status === 404) return false;
        check(answer, 'Reading ' + secret.label);
        return true;
      }).then(function (stored) { state.stored[secret.name] = stored; });
    }));
  }
  function load() {
    return call('GET', 'data/inputs/' + SCHEME + '/_new').then(function (answer) {
      check(answer, 'Reading the input\'s settings');
      var attributes = (answer.body.entry[0].content || {})['eai:attributes'] || {};
      state.supported = {};
      (attributes.optionalFields || []).concat(attributes.requiredFields || []).forEach(function (name) {
        state.supported[name] = true;
      });
      return call('GET', 'data/inputs/' + SCHEME + '?count=0');
    }).then(function (answer) {
      check(answer, 'Listing the inputs');
      state.entries = answer.body.entry || [];
      buildFields();
      var choose = $('mi-stanza');
      choose.textContent = '';
      state.entries.forEach(function (entry, index) {
        choose.appendChild(element('option', { value: String(index) }, entry.name));
      });
      $('mi-choose').hidden = state.entries.length < 2;
      var enabled = state.entries.filter(function (e) { return !isTrue((e.content || {}).disabled); });
      fillFrom(enabled[0] || state.entries[0] || null);
      if (state.current) choose.value = String(state.entries.indexOf(state.current));
      return loadSecrets();
    }).then(function () {
      showSecretStates();
      $('mi-form').hidden = false;
      $('mi-status').textContent = state.current
        ? 'Editing input ' + state.current.name + '.'
        : 'No input yet: Save creates one.';
      $('mi-settings').setAttribute('data-state', 'ready');
    });
  }

  // -- save ----------------------------------------------------------------------------------
  function collect() {
    var form = {};
    var problems = [];
    FIELDS.forEach(function (field) {
      var input = $('field-' + field.name);
      if (!input) return;
      input.removeAttribute('aria-invalid');
      if (field.type === 'checkbox') { form[field.name] = input.checked ? '1' : '0'; return; }
      var value = input.value.trim();
      if (field.name === 'interval' && value !== '') {
        if (!/^\d+$/.test(value) || Number(value) < MIN_INTERVAL) {
          input.setAttribute('aria-invalid', 'true');
          problems.push('Interval must be a whole number of seconds, at least ' + MIN_INTERVAL + ' (got ' + value + ').');
        }
      }
      // an empty value clears a setting of the input; interval and index keep splunkd's default
      if (value !== '' || (state.current && !field.standard)) form[field.name] = value;
    });
    if (!state.current) {
      var name = $('field-name').value.trim();
      if (!NAME_RE.test(name)) problems.push('Name must start with a letter or digit and hold only letters, digits, _, - and . (got ' + name + ').');
      form.name = name;
    }
    if (problems.length) throw new Error(problems.join('\n'));
    return form;
  }
  function saveInput(form) {
    var editing = Boolean(state.current);
    var name = editing ? state.current.name : form.name;
    var path = 'data/inputs/' + SCHEME + (editing ? '/' + encodeURIComponent(name) : '');
    return call('POST', path, form).then(function (answer) {
      check(answer, editing ? 'Saving input ' + name : 'Creating input ' + name);
      var wasEnabled = editing ? !isTrue((state.current.content || {}).disabled) : null;
      var enable = $('field-enabled').checked;
      if (wasEnabled === enable) return null;
      var action = enable ? 'enable' : 'disable';
      return call('POST', 'data/inputs/' + SCHEME + '/' + encodeURIComponent(name) + '/' + action).then(function (a) {
        check(a, 'Trying to ' + action + ' input ' + name);
      });
    });
  }
  function saveSecret(secret) {
    var input = $('field-' + secret.name);
    var value = input.value;
    if (!value) return Promise.resolve(false);
    // f=username: splunkd answers a POST with the entry; ask it to leave the password out
    var request = state.stored[secret.name]
      ? call('POST', 'storage/passwords/' + secretId(secret) + '?f=username', { password: value })
      : call('POST', 'storage/passwords?f=username', { name: secret.name, realm: REALM, password: value });
    return request.then(function (answer) {
      check(answer, 'Storing ' + secret.label);
      input.value = '';
      state.stored[secret.name] = true;
      return true;
    });
  }
  function removeSecret(secret) {
    show('', '');
    call('DELETE', 'storage/passwords/' + secretId(secret)).then(function (answer) {
      if (answer.status !== 404) check(answer, 'Removing ' + secret.label);
      state.stored[secret.name] = false;
      showSecretStates();
      show('success', secret.label + ' removed from storage/passwords.');
    }).catch(function (error) { show('error', error.message); });
  }
  function save(event) {
    event.preventDefault();
    show('', '');
    var button = $('save');
    var form;
    try { form = collect(); } catch (error) { show('error', error.message); return; }
    button.disabled = true;
    saveInput(form).then(function () {
      return SECRETS.reduce(function (chain, secret) {
        return chain.then(function () { return saveSecret(secret); });
      }, Promise.resolve());
    }).then(function () {
      return load();
    }).then(function () {
      show('success', 'Saved. The next run uses the new settings.');
    }).catch(function (error) {
      showSecretStates();
      show('error', error.message);
    }).then(function () { button.disabled = false; });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('mi-form').addEventListener('submit', save);
    $('mi-stanza').addEventListener('change', function () {
      fillFrom(state.entries[Number($('mi-stanza').value)] || null);
    });
    load().catch(function (error) {
      $('mi-status').textContent = 'The settings could not be loaded.';
      $('mi-settings').setAttribute('data-state', 'failed');
      show('error', error.message);
    });
  });
}());
