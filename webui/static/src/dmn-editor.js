// The DMN editor of <div class="dmn-editor">: edits the decision tables at data-xml-url; checks and deploys through
// the page's buttons (see editing.js for the page's contract).
// window.dmnModeler is the dmn-js Modeler, for tests and the browser's console.

import DmnModeler from 'dmn-js/lib/Modeler';
import 'dmn-js/dist/assets/diagram-js.css';
import 'dmn-js/dist/assets/dmn-js-shared.css';
import 'dmn-js/dist/assets/dmn-js-drd.css';
import 'dmn-js/dist/assets/dmn-js-decision-table.css';
import 'dmn-js/dist/assets/dmn-js-decision-table-controls.css';
import 'dmn-js/dist/assets/dmn-js-literal-expression.css';
import 'dmn-js/dist/assets/dmn-js-boxed-expression.css';
import 'dmn-js/dist/assets/dmn-js-boxed-expression-controls.css';
import 'dmn-js/dist/assets/dmn-font/css/dmn.css';
import './process.css';
import { canvasOf, mountEditor, whenReady } from './editing.js';

// Every id inside a decision (its table, inputs, outputs, rules and their entries), to find which view shows it.
function idsWithin(decision) {
  const ids = [decision.id];
  const logic = decision.decisionLogic;
  if (logic) {
    ids.push(logic.id);
    [...(logic.input || []), ...(logic.output || [])].forEach((column) => ids.push(column.id));
    (logic.rule || []).forEach((rule) => {
      ids.push(rule.id);
      [...(rule.inputEntry || []), ...(rule.outputEntry || [])].forEach((entry) => ids.push(entry.id));
    });
  }
  return ids.filter(Boolean);
}

// Our tables are written in SpiffWorkflow's Python dialect, not FEEL: cells are edited as plain text, without the
// FEEL editor's completions (whose stylesheet, injected at run time, our Content-Security-Policy would refuse anyway).
const PYTHON_ONLY = {
  options: [{ label: 'Python', value: 'http://www.python.org' }],
  defaults: { editor: 'http://www.python.org' },
};

function isDrd(view) {
  return view && view.type === 'drd';
}

function mount(root) {
  const container = canvasOf(root);
  const modeler = new DmnModeler({ container, common: { expressionLanguages: PYTHON_ONLY } });
  window.dmnModeler = modeler;
  let problemIds = [];
  const followedViewers = new WeakSet();

  // The decision whose table holds the id, or, for an element drawn on its own (input data, knowledge source), the
  // drawing of the decisions (DRD). dmn-js links the two: "View DRD" above a table, a table icon on each decision.
  function viewShowing(id) {
    const views = modeler.getViews();
    const drawn = (modeler.getDefinitions().drgElement || []).some((element) => element.id === id);
    return views.find((view) => !isDrd(view) && idsWithin(view.element).includes(id))
      || (drawn ? views.find(isDrd) : undefined);
  }

  function cellsOf(id) {
    const quoted = CSS.escape(id);
    return container.querySelectorAll(
      `[data-element-id="${quoted}"], [data-row-id="${quoted}"], [data-col-id="${quoted}"]`);
  }

  // On the drawing, a decision is marked when a problem lies inside its table. Tables are HTML redrawn on every
  // change, so their highlights are put back after each redraw.
  function applyMarks() {
    const viewer = modeler.getActiveViewer();
    if (!viewer) {
      return;
    }
    if (isDrd(modeler.getActiveView())) {
      const canvas = viewer.get('canvas');
      const registry = viewer.get('elementRegistry');
      const owners = new Set(problemIds.map((id) => {
        const view = viewShowing(id);
        return view && !isDrd(view) ? view.element.id : id;
      }));
      registry.forEach((element) => {
        if (owners.has(element.id)) {
          canvas.addMarker(element, 'has-problem');
        } else {
          canvas.removeMarker(element, 'has-problem');
        }
      });
      return;
    }
    container.querySelectorAll('.has-problem').forEach((cell) => cell.classList.remove('has-problem'));
    problemIds.forEach((id) => cellsOf(id).forEach((cell) => cell.classList.add('has-problem')));
  }

  function scheduleMarks() {
    requestAnimationFrame(applyMarks);
  }

  modeler.on('views.changed', () => {
    const viewer = modeler.getActiveViewer();
    if (viewer && !followedViewers.has(viewer)) {
      followedViewers.add(viewer);
      viewer.on('elements.changed', scheduleMarks);
    }
    scheduleMarks();
  });

  mountEditor(root, {
    canvas: container,
    async load(xml) {
      problemIds = [];
      await modeler.importXML(xml);
    },
    async save() {
      return (await modeler.saveXML({ format: true })).xml;
    },
    mark(ids) {
      problemIds = ids.filter((id) => viewShowing(id));
      applyMarks();
      return problemIds;
    },
    async reveal(id) {
      const view = viewShowing(id);
      if (view && view !== modeler.getActiveView()) {
        await modeler.open(view);
      }
      const viewer = modeler.getActiveViewer();
      if (isDrd(modeler.getActiveView())) {
        viewer.get('canvas').scrollToElement(id);
        viewer.get('selection').select(viewer.get('elementRegistry').get(id));
        return;
      }
      applyMarks();
      const cell = cellsOf(id)[0];
      if (cell) {
        cell.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      }
    },
  });
}

whenReady(() => document.querySelectorAll('div.dmn-editor').forEach(mount));
