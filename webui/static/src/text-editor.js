// The text editor of <div class="text-editor">: a form or rule file edited in its <textarea class="editor-text">;
// checks and deploys through the page's buttons (see editing.js for the page's contract). No element of a text file
// can be highlighted: a check's problems are listed, and the list is scrolled into view.
//
// A form's editor (<div class="text-editor form-editor" data-preview-url>) also shows the form as staff will see it,
// in Arabic and in English: the server renders the text (POST data-preview-url?lang=ar|en, JSON {"text"}) into
// .preview[data-lang=ar] and .preview[data-lang=en], on load and a moment after each change.

import './process.css';
import './text-editor.css';
import { mountEditor, whenReady } from './editing.js';

const PREVIEW_DELAY_MS = 400;
const PREVIEW_LANGUAGES = ['ar', 'en'];

// The server's fragment as nodes of this page. Parsed apart from the page, so nothing in it runs; scripts are dropped
// all the same (the preview is our own template's HTML, escaped by Jinja, and never holds one).
function fragmentNodes(html) {
  const parsed = new DOMParser().parseFromString(html, 'text/html');
  parsed.querySelectorAll('script').forEach((script) => script.remove());
  return [...parsed.body.childNodes].map((node) => document.adoptNode(node));
}

function failureNote(text) {
  const note = document.createElement('p');
  note.className = 'preview-failed';
  note.dir = 'auto';
  note.textContent = text;
  return note;
}

function previewer(root, textarea) {
  const boxes = PREVIEW_LANGUAGES
    .map((lang) => [lang, root.querySelector(`.preview[data-lang="${lang}"]`)])
    .filter(([, box]) => box);
  const failedText = root.dataset.previewFailedText || 'The preview could not be shown ({status}).';
  let timer = null;
  let running = null;

  async function renderOne(lang, box, text, signal) {
    const url = new URL(root.dataset.previewUrl, window.location.href);
    url.searchParams.set('lang', lang);
    let nodes;
    try {
      const response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'text/html', 'X-CSRFToken': root.dataset.csrf },
        body: JSON.stringify({ text }),
        signal,
      });
      if (response.ok) {
        nodes = fragmentNodes(await response.text());
      } else {
        const answer = await response.json().catch(() => null);
        const message = answer && (answer.error || answer.message);
        nodes = [failureNote(typeof message === 'string' ? message : failedText.replace('{status}', response.status))];
      }
    } catch (error) {
      if (signal.aborted) {
        return; // a newer text is being previewed
      }
      nodes = [failureNote(failedText.replace('{status}', error.message || error))];
    }
    if (!signal.aborted) {
      box.replaceChildren(...nodes);
    }
  }

  async function render() {
    if (running) {
      running.abort();
    }
    const controller = new AbortController();
    running = controller;
    root.dataset.preview = 'loading';
    const text = textarea.value;
    await Promise.all(boxes.map(([lang, box]) => renderOne(lang, box, text, controller.signal)));
    if (running === controller) {
      running = null;
      root.dataset.preview = 'ready';
    }
  }

  return {
    now() {
      clearTimeout(timer);
      return render();
    },
    soon() {
      clearTimeout(timer);
      timer = setTimeout(render, PREVIEW_DELAY_MS);
    },
  };
}

function mount(root) {
  const textarea = root.querySelector('textarea.editor-text');
  if (!textarea) {
    return;
  }
  const problems = root.querySelector('ul.problems');
  const preview = root.classList.contains('form-editor') && root.dataset.previewUrl ? previewer(root, textarea) : null;
  if (preview) {
    textarea.addEventListener('input', preview.soon);
  }

  mountEditor(root, {
    canvas: textarea,
    async load(text) {
      textarea.value = text;
      if (preview) {
        preview.now();
      }
    },
    async save() {
      return textarea.value;
    },
    mark() {
      // Called just before the list is filled: bring it into view once it shows the problems.
      requestAnimationFrame(() => {
        if (problems && !problems.hidden && problems.children.length) {
          problems.scrollIntoView({ block: 'nearest' });
        }
      });
      return [];
    },
    reveal() {},
  });
}

whenReady(() => document.querySelectorAll('div.text-editor').forEach(mount));
