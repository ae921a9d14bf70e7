// The BPMN modeler of <div class="bpmn-modeler">: draws and edits the diagram at data-xml-url; checks and deploys
// through the page's buttons (see editing.js for the page's contract), and edits the selected element's properties
// in its <div class="properties-panel"> (see process-properties.js for what the page gives the panel).
// window.processModeler is the bpmn-js Modeler, for tests and the browser's console.

import Modeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import './process.css';
import { canvasOf, mountEditor, whenReady } from './editing.js';
import { pageChoices, spiffPropertiesModule, translateModule } from './process-properties.js';
import spiffworkflow from './spiffworkflow-moddle.json';

// Shapes that hold others: a problem there is outlined, not filled over everything drawn inside.
const CONTAINERS = ['bpmn:Participant', 'bpmn:Lane', 'bpmn:SubProcess'];
const FIT_MARGIN_PX = 16;
const READABLE_SCALE = 0.5;
const NARROW_PX = 600;
// The panel's groups that start open: what an analyst comes to the panel for.
const OPEN_GROUPS = ['general', 'spiffTask', 'spiffCondition', 'spiffService', 'spiffParameters'];
const PANEL_LAYOUT = { groups: Object.fromEntries(OPEN_GROUPS.map((id) => [id, { open: true }])) };

// The panel's box: the page's .properties-panel, or one added after the canvas.
function panelOf(root, canvas) {
  let panel = root.querySelector('.properties-panel');
  if (!panel) {
    panel = document.createElement('div');
    panel.className = 'properties-panel';
    canvas.after(panel);
  }
  return panel;
}

function mount(root) {
  const container = canvasOf(root);
  const choices = pageChoices(root);
  const panel = panelOf(root, container);
  const modeler = new Modeler({
    container,
    propertiesPanel: { parent: panel, layout: PANEL_LAYOUT },
    spiffProperties: choices,
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, spiffPropertiesModule,
      translateModule(choices.texts)],
    // Our process's extensions (forms, stages, service operations) are read, edited and saved as such.
    moddleExtensions: { spiffworkflow },
  });
  window.processModeler = modeler;
  const canvas = modeler.get('canvas');
  const registry = modeler.get('elementRegistry');
  let marked = [];
  let fitted = false;

  // A problem about the process itself is shown on the pool that draws it.
  function shapeOf(id) {
    return registry.get(id) || registry.find((element) => element.businessObject.processRef?.id === id);
  }

  // The whole diagram in view (on a wide screen), beside the palette, which floats over the canvas's left edge.
  function fit() {
    const width = container.clientWidth;
    const height = container.clientHeight;
    fitted = Boolean(width && height);
    if (!fitted) {
      return;
    }
    canvas.zoom('fit-viewport', 'auto');
    const inner = canvas.viewbox().inner;
    const palette = container.querySelector('.djs-palette');
    const left = (palette ? palette.offsetLeft + palette.offsetWidth : 0) + FIT_MARGIN_PX;
    if (!inner.width || !inner.height || width - left - FIT_MARGIN_PX <= 0) {
      return;
    }
    const tallest = (height - 2 * FIT_MARGIN_PX) / inner.height;
    const whole = Math.min((width - left - FIT_MARGIN_PX) / inner.width, tallest, 1);
    // On a phone the whole process would be too small to read: its start is shown at a readable size instead.
    const scale = width < NARROW_PX ? Math.max(whole, Math.min(READABLE_SCALE, tallest)) : whole;
    canvas.viewbox({
      x: inner.x - left / scale,
      y: inner.y - (height / scale - inner.height) / 2,
      width: width / scale,
      height: height / scale,
    });
  }

  new ResizeObserver(() => {
    canvas.resized();
    if (!fitted) {
      fit();
    }
  }).observe(container);

  mountEditor(root, {
    canvas: container,
    async load(xml) {
      const { warnings } = await modeler.importXML(xml);
      marked = [];
      fit();
      // Elements the modeler cannot read (an extension it has no description of) would be lost on saving.
      return warnings.map((warning) => warning.message.split('\n')[0]);
    },
    async save() {
      // A value still being typed in the panel is committed first (its field commits when it loses the focus).
      if (panel.contains(document.activeElement)) {
        document.activeElement.blur();
      }
      return (await modeler.saveXML({ format: true })).xml;
    },
    mark(ids) {
      marked.filter((shape) => registry.get(shape.id)).forEach((shape) => {
        canvas.removeMarker(shape, 'has-problem');
        canvas.removeMarker(shape, 'problem-container');
      });
      const found = ids.filter((id) => shapeOf(id));
      marked = found.map(shapeOf);
      marked.forEach((shape) => {
        canvas.addMarker(shape, 'has-problem');
        if (CONTAINERS.includes(shape.type)) {
          canvas.addMarker(shape, 'problem-container');
        }
      });
      return found;
    },
    reveal(id) {
      const shape = shapeOf(id);
      if (shape) {
        canvas.scrollToElement(shape);
        modeler.get('selection').select(shape);
      }
    },
  });
}

whenReady(() => document.querySelectorAll('div.bpmn-modeler').forEach(mount));
