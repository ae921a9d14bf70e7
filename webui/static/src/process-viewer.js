// Draws each <div class="bpmn-view"> of the page: the diagram at data-xml-url, fitted to the box, with
//   data-counts='{"element_id": 3}'   a badge with the number of cases waiting at each element,
//   data-path='["start", ...]'        the elements a case went through (marker "done", and the flows between two
//                                     consecutive ones),
//   data-current='["element_id"]'     where it waits now (marker "current").
// Optional, in the user's language: data-count-label (a tooltip for the badges), data-failed-text (shown in the box
// when the diagram cannot be drawn).
// The div gets data-state="ready" once drawn, or "failed".

import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import './process.css';
import { fetchText, whenReady } from './editing.js';

function readJSONAttribute(element, name, fallback) {
  try {
    return JSON.parse(element.getAttribute(name) || 'null') ?? fallback;
  } catch {
    return fallback;
  }
}

function addCountBadges(viewer, counts, label) {
  const overlays = viewer.get('overlays');
  const registry = viewer.get('elementRegistry');
  Object.entries(counts).forEach(([id, count]) => {
    if (!registry.get(id) || !(Number(count) > 0)) {
      return;
    }
    const badge = document.createElement('span');
    badge.className = 'case-count';
    badge.dataset.element = id;
    badge.textContent = String(count);
    if (label) {
      badge.title = `${count} ${label}`;
    }
    // Never drawn smaller than the page's text, however far the diagram is zoomed out.
    overlays.add(id, 'case-count', { position: { top: -10, right: 14 }, scale: { min: 1 }, html: badge });
  });
}

function sequenceFlowsBetween(registry, from, to) {
  return registry.filter((element) => element.type === 'bpmn:SequenceFlow'
    && element.businessObject.sourceRef && element.businessObject.sourceRef.id === from
    && element.businessObject.targetRef && element.businessObject.targetRef.id === to);
}

function markPath(viewer, path, current) {
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  path.forEach((id, index) => {
    if (registry.get(id)) {
      canvas.addMarker(id, 'done');
    }
    if (index + 1 < path.length) {
      sequenceFlowsBetween(registry, id, path[index + 1]).forEach((flow) => canvas.addMarker(flow, 'done'));
    }
  });
  current.filter((id) => registry.get(id)).forEach((id) => canvas.addMarker(id, 'current'));
}

// The box is as tall as the diagram drawn across its width (up to the stylesheet's max-height), so that a wide process
// on a phone is not a thin strip in a tall empty box. Fitted once the box has a size (it may be hidden, in a closed
// <details> for example), and again when its width changes.
const MARGIN_PX = 48;
const READABLE_ZOOM = 0.55;

function fitWhenSized(container, canvas) {
  const diagram = canvas.viewbox().inner;
  let width = 0;
  new ResizeObserver(() => {
    if (!container.clientWidth || container.clientWidth === width) {
      return;
    }
    width = container.clientWidth;
    if (diagram.width && (width - MARGIN_PX) / diagram.width < READABLE_ZOOM) {
      // On a phone the whole process would be drawn too small to read, its badges covering the tasks' names: it is
      // drawn at a readable size from its start, and dragged sideways inside its box (never widening the page).
      container.style.height = `${Math.round(diagram.height * READABLE_ZOOM + MARGIN_PX)}px`;
      canvas.resized();
      const pad = MARGIN_PX / 2 / READABLE_ZOOM;
      canvas.viewbox({ x: diagram.x - pad, y: diagram.y - pad, width: width / READABLE_ZOOM,
        height: container.clientHeight / READABLE_ZOOM });
      return;
    }
    if (diagram.width) {
      container.style.height = `${Math.round((width * diagram.height) / diagram.width + MARGIN_PX)}px`;
    }
    canvas.resized();
    canvas.zoom('fit-viewport', 'auto');
    canvas.zoom(canvas.zoom() * 0.96, 'auto');
  }).observe(container);
}

async function show(container) {
  container.setAttribute('dir', 'ltr');
  container.dataset.state = 'loading';
  const viewer = new NavigatedViewer({ container });
  try {
    await viewer.importXML(await fetchText(container.dataset.xmlUrl));
  } catch (error) {
    container.dataset.state = 'failed';
    const message = document.createElement('p');
    message.className = 'diagram-failed';
    message.dir = 'auto';
    message.textContent = `${container.dataset.failedText || 'The diagram could not be drawn:'} ${error.message || error}`;
    container.replaceChildren(message);
    return;
  }
  addCountBadges(viewer, readJSONAttribute(container, 'data-counts', {}), container.dataset.countLabel);
  markPath(viewer, readJSONAttribute(container, 'data-path', []), readJSONAttribute(container, 'data-current', []));
  fitWhenSized(container, viewer.get('canvas'));
  container.processViewer = viewer;
  container.dataset.state = 'ready';
}

whenReady(() => document.querySelectorAll('div.bpmn-view').forEach(show));
