// What the BPMN modeler and the DMN editor share: loading the file, the page's controls, the check and deploy
// requests, the problems list and the status line. Each editor passes an adapter that knows its own library.
//
// The page's contract, for one editor:
//   <div class="bpmn-modeler|dmn-editor" data-xml-url data-check-url data-deploy-url data-csrf data-file
//        data-deployed-text="... {version} ..."> with, inside it (or anywhere on the page when the div holds none):
//   buttons [data-action=check|deploy|download], <input type=file data-action=upload>, <ul class="problems">,
//   and optionally <p class="editor-status"> and <div class="editor-canvas"> (both created when missing).
// Texts shown to the user come from the page (data-*-text), in the user's language; the English defaults are only
// a fallback for a page that leaves one out.

const DEFAULT_TEXTS = {
  deployedText: 'Deployed as version {version}.',
  checkedText: 'No problems found.',
  problemsText: 'Nothing was deployed: fix the problems listed.',
  failedText: 'The server could not be reached or refused the request ({status}).',
  loadFailedText: 'This file could not be opened:',
  importWarningsText: 'Parts of this file that the editor does not know were left out, and saving drops them:',
};

// Everything before the root element (the XML declaration and the comments that explain the file) is dropped by the
// modelers when they save; it is kept aside when loading and put back when saving.
const PROLOGUE = /^\s*((?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*)*)/;

export function prologueOf(xml) {
  return PROLOGUE.exec(xml)[1].trim();
}

export function withPrologue(saved, prologue) {
  if (!prologue.includes('<!--')) {
    return saved;
  }
  const body = saved.replace(/^\s*<\?xml[^>]*\?>\s*/, '');
  const declaration = /^<\?xml[^>]*\?>/.exec(prologue);
  return (declaration ? '' : '<?xml version="1.0" encoding="UTF-8"?>\n') + prologue + '\n' + body;
}

// Scripts may be included with or without defer.
export function whenReady(start) {
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}

export async function fetchText(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/xml, text/xml' } });
  if (!response.ok) {
    throw new Error(`HTTP ${response.status}`);
  }
  return response.text();
}

// Only a link inside this site is followed: the answer names the new version's page.
function isLocalPath(url) {
  return typeof url === 'string' && url.startsWith('/') && !url.startsWith('//');
}

function fileName(path) {
  return path.split('/').pop() || 'diagram.xml';
}

/**
 * Wires one editor's controls to an adapter:
 *   adapter.load(xml)          imports the XML (rejects when it cannot be read); may resolve to warnings (texts)
 *   adapter.save()             resolves to the current XML
 *   adapter.mark(ids)          highlights these element ids (replacing earlier highlights); returns the ids it found
 *   adapter.reveal(id)         selects and scrolls to that element
 */
export function mountEditor(root, adapter) {
  const scope = root.querySelector('[data-action]') ? root : document;
  const texts = Object.fromEntries(Object.entries(DEFAULT_TEXTS).map(
    ([key, fallback]) => [key, root.dataset[key] || fallback]));
  const file = root.dataset.file || '';
  const problemsList = scope.querySelector('ul.problems');
  let status = scope.querySelector('.editor-status');
  if (!status) {
    status = document.createElement('p');
    status.className = 'editor-status';
    status.setAttribute('role', 'status');
    (problemsList || adapter.canvas).before(status);
  }
  const buttons = [...scope.querySelectorAll('button[data-action]')];
  let prologue = '';

  function say(text, kind) {
    status.replaceChildren();
    status.dataset.kind = kind || '';
    if (text) {
      status.textContent = text;
    }
  }

  function setBusy(busy) {
    root.setAttribute('aria-busy', String(busy));
    buttons.forEach((button) => { button.disabled = busy; });
  }

  async function load(xml) {
    prologue = prologueOf(xml);
    const warnings = await adapter.load(xml);
    showProblems([]);
    say('');
    if (Array.isArray(warnings) && warnings.length) {
      say(`${texts.importWarningsText} ${warnings.join('; ')}`, 'error');
    }
    root.dataset.state = 'ready';
  }

  function loadFailed(error) {
    root.dataset.state = root.dataset.state === 'ready' ? 'ready' : 'failed';
    say(`${texts.loadFailedText} ${error.message || error}`, 'error');
  }

  function showProblems(problems) {
    const found = new Set(adapter.mark(problems.map((problem) => problem.element).filter(Boolean)));
    if (!problemsList) {
      return;
    }
    problemsList.replaceChildren(...problems.map((problem) => {
      const item = document.createElement('li');
      item.dir = 'auto';
      if (problem.element && found.has(problem.element)) {
        const link = document.createElement('button');
        link.type = 'button';
        link.className = 'problem-element';
        link.dataset.element = problem.element;
        link.textContent = problem.message;
        link.addEventListener('click', () => adapter.reveal(problem.element));
        item.append(link);
      } else {
        item.append(problem.message);
      }
      if (problem.file && problem.file !== file) {
        const where = document.createElement('bdi');
        where.className = 'problem-file';
        where.textContent = problem.file;
        item.append(' (', where, ')');
      }
      return item;
    }));
    problemsList.hidden = problems.length === 0;
  }

  async function send(action) {
    const url = root.dataset[`${action}Url`];
    setBusy(true);
    say('');
    try {
      const text = withPrologue(await adapter.save(), prologue);
      const response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': root.dataset.csrf },
        body: JSON.stringify({ file, text }),
      });
      const answer = await response.json().catch(() => null);
      if (!answer || (response.status !== 200 && response.status !== 422) || !Array.isArray(answer.problems)) {
        const message = answer && (answer.message || answer.error);
        say(typeof message === 'string' ? message : texts.failedText.replace('{status}', response.status), 'error');
        return;
      }
      showProblems(answer.problems);
      if (!answer.ok) {
        say(texts.problemsText, 'error');
      } else if (action === 'deploy' && answer.version) {
        announceDeployed(answer.version);
      } else {
        say(texts.checkedText, 'ok');
      }
    } catch (error) {
      say(texts.failedText.replace('{status}', error.message || error), 'error');
    } finally {
      setBusy(false);
    }
  }

  function announceDeployed(version) {
    const message = texts.deployedText.replace('{version}', version.version);
    say('', 'ok');
    if (isLocalPath(version.url)) {
      const link = document.createElement('a');
      link.href = version.url;
      link.textContent = message;
      status.append(link);
    } else {
      status.textContent = message;
    }
    root.dispatchEvent(new CustomEvent('editor:deployed', { detail: version, bubbles: true }));
  }

  async function download() {
    const text = withPrologue(await adapter.save(), prologue);
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], { type: 'application/xml' }));
    link.download = fileName(file);
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }

  scope.querySelectorAll('[data-action]').forEach((control) => {
    const action = control.dataset.action;
    if (action === 'upload') {
      control.addEventListener('change', async () => {
        const chosen = control.files && control.files[0];
        if (!chosen) {
          return;
        }
        say('');
        try {
          await load(await chosen.text());
        } catch (error) {
          loadFailed(error);
        }
        control.value = '';
      });
    } else if (action === 'download') {
      control.addEventListener('click', download);
    } else if (action === 'check' || action === 'deploy') {
      control.addEventListener('click', () => send(action));
    }
  });

  root.dataset.state = 'loading';
  fetchText(root.dataset.xmlUrl).then(load).catch(loadFailed);
}

// The canvas the library draws into: the page's .editor-canvas, or one added to the editor's div. Diagrams and
// decision tables stay left to right on an Arabic page.
export function canvasOf(root) {
  let canvas = root.querySelector('.editor-canvas');
  if (!canvas) {
    canvas = document.createElement('div');
    canvas.className = 'editor-canvas';
    root.append(canvas);
  }
  canvas.setAttribute('dir', 'ltr');
  return canvas;
}
