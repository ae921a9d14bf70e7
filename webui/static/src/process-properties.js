// The properties our engine reads, edited beside the diagram: a user task's form, stage, due time and assignee
// (spiffworkflow:properties), a gateway's conditions and default flow, a service task's operation, result variable
// and parameters (spiffworkflow:serviceTaskOperator), a lane's role. The base provider of bpmn-js-properties-panel
// gives the id, name and documentation.
//
// The page gives the choices and the words, in the user's language (see edit.html):
//   data-forms='["registration", ...]'            form files of the latest version
//   data-stages='[["registration", "Registration"], ...]'   vocabulary stages: key and label
//   data-roles='[["reception", "Reception"], ...]'          roles a lane may name: key and label
//   data-operations='["save_household", ...]'     service operations the engine knows
//   data-panel-texts='{"Form": "...", ...}'        the panel's words, by their English text (English when missing)

import {
  Group,
  ListGroup,
  SelectEntry,
  TextAreaEntry,
  TextFieldEntry,
  ToggleSwitchEntry,
  isSelectEntryEdited,
  isTextAreaEntryEdited,
  isTextFieldEntryEdited,
  isToggleSwitchEntryEdited,
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is, isAny } from 'bpmn-js/lib/util/ModelUtil';

const TASK_PROPERTIES = 'spiffworkflow:Properties';
const OPERATOR = 'spiffworkflow:ServiceTaskOperator';
// Gateways whose outgoing flows carry conditions, and those that may have a default flow.
const CONDITIONAL_GATEWAYS = ['bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway', 'bpmn:ComplexGateway'];
// Entries whose value is an expression or a code, typed left to right on any page (process.css).
export const EXPRESSION_ENTRIES = ['dueIn', 'dueDate', 'assignee', 'condition', 'resultVariable'];

function parsed(text, fallback) {
  try {
    const value = JSON.parse(text || '');
    return value ?? fallback;
  } catch {
    return fallback;
  }
}

/** What the page gives the panel, read once from the modeler's div. */
export function pageChoices(root) {
  const data = root.dataset;
  const pairs = (text) => parsed(text, []).filter(Array.isArray).map(([key, label]) => ({ key, label: label || key }));
  return {
    forms: parsed(data.forms, []).map(String),
    stages: pairs(data.stages),
    roles: pairs(data.roles),
    operations: parsed(data.operations, []).map(String),
    texts: parsed(data.panelTexts, {}),
  };
}

/**
 * bpmn-js's translate service with the page's words: the panel, the palette and the context pad ask for a text by
 * its English wording; the page's translation is used when it gives one.
 */
export function translateModule(texts) {
  function translate(template, replacements) {
    const text = typeof texts[template] === 'string' && texts[template] ? texts[template] : template;
    return text.replace(/{([^}]+)}/g, (whole, key) => (
      replacements && key in replacements ? replacements[key] : whole));
  }
  return { translate: ['value', translate] };
}

// --- the XML behind the entries -------------------------------------------------------------------------------

function extensionOf(businessObject, type) {
  const values = businessObject.get('extensionElements')?.get('values') || [];
  return values.find((value) => is(value, type));
}

// Adds one extension element to an element, creating <bpmn:extensionElements> when it has none (one undo step).
function addExtension(injector, element, extension) {
  const businessObject = getBusinessObject(element);
  const extensions = businessObject.get('extensionElements');
  if (!extensions) {
    const created = injector.get('bpmnFactory').create('bpmn:ExtensionElements', { values: [extension] });
    extension.$parent = created;
    created.$parent = businessObject;
    injector.get('modeling').updateProperties(element, { extensionElements: created });
    return;
  }
  extension.$parent = extensions;
  injector.get('modeling').updateModdleProperties(element, extensions, {
    values: [...extensions.get('values'), extension],
  });
}

function taskProperty(element, name) {
  const properties = extensionOf(getBusinessObject(element), TASK_PROPERTIES);
  return properties?.get('entries').find((entry) => entry.get('name') === name);
}

// Sets <spiffworkflow:property name=... value=...>; an empty value removes the property.
function setTaskProperty(injector, element, name, value) {
  const modeling = injector.get('modeling');
  const bpmnFactory = injector.get('bpmnFactory');
  const text = (value || '').trim();
  const properties = extensionOf(getBusinessObject(element), TASK_PROPERTIES);
  const existing = properties?.get('entries').find((entry) => entry.get('name') === name);
  if (existing && text) {
    modeling.updateModdleProperties(element, existing, { value: text });
  } else if (existing) {
    modeling.updateModdleProperties(element, properties, {
      entries: properties.get('entries').filter((entry) => entry !== existing),
    });
  } else if (text && properties) {
    const created = bpmnFactory.create('spiffworkflow:Property', { name, value: text });
    created.$parent = properties;
    modeling.updateModdleProperties(element, properties, { entries: [...properties.get('entries'), created] });
  } else if (text) {
    const created = bpmnFactory.create('spiffworkflow:Property', { name, value: text });
    const holder = bpmnFactory.create(TASK_PROPERTIES, { entries: [created] });
    created.$parent = holder;
    addExtension(injector, element, holder);
  }
}

function operatorOf(element) {
  return extensionOf(getBusinessObject(element), OPERATOR);
}

// The operator of a service task, with its <spiffworkflow:parameters>, created with the first value set.
function setOperator(injector, element, properties) {
  const operator = operatorOf(element);
  if (operator) {
    injector.get('modeling').updateModdleProperties(element, operator, properties);
    return;
  }
  const bpmnFactory = injector.get('bpmnFactory');
  const created = bpmnFactory.create(OPERATOR, properties);
  const parameters = bpmnFactory.create('spiffworkflow:Parameters', { entries: [] });
  parameters.$parent = created;
  created.set('parameters', parameters);
  addExtension(injector, element, created);
}

function parametersOf(element) {
  return operatorOf(element)?.get('parameters')?.get('entries') || [];
}

// --- entries ------------------------------------------------------------------------------------------------

function withCurrent(options, current) {
  // A value the page does not list (an old form, a misspelt stage) stays visible; the check names it.
  if (current && !options.some((option) => option.value === current)) {
    return [...options, { value: current, label: `${current} (?)` }];
  }
  return options;
}

// A vocabulary word as an option: its label in the user's language, and the key the file holds.
function keyAndLabel({ key, label }) {
  return { value: key, label: label === key ? key : `${label} (${key})` };
}

function TaskPropertySelect(props) {
  const { element, id, name, label, choices } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const getValue = () => taskProperty(element, name)?.get('value') || '';
  return SelectEntry({
    element,
    id,
    label: translate(label),
    getValue,
    setValue: (value) => setTaskProperty(injector, element, name, value),
    getOptions: () => withCurrent([{ value: '', label: translate('(none)') }, ...choices], getValue()),
  });
}

function TaskPropertyText(props) {
  const { element, id, name, label, description } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  return TextFieldEntry({
    element,
    id,
    label: translate(label),
    description: description && translate(description),
    debounce,
    getValue: () => taskProperty(element, name)?.get('value') || '',
    setValue: (value) => setTaskProperty(injector, element, name, value),
  });
}

function userTaskGroup(element, choices, translate) {
  const forms = choices.forms.map((key) => ({ value: key, label: key }));
  const stages = choices.stages.map(keyAndLabel);
  const entry = (id, component, extra) => ({
    id, name: id, element, component, isEdited: isSelectEntryEdited, ...extra });
  return {
    id: 'spiffTask',
    label: translate('Task'),
    component: Group,
    entries: [
      entry('formKey', TaskPropertySelect, { label: 'Form', choices: forms }),
      entry('stage', TaskPropertySelect, { label: 'Stage', choices: stages }),
      entry('dueIn', TaskPropertyText, {
        label: 'Due in', isEdited: isTextFieldEntryEdited,
        description: 'An ISO 8601 duration, for example P2D (two days) or PT4H (four hours).',
      }),
      entry('dueDate', TaskPropertyText, {
        label: 'Due date', isEdited: isTextFieldEntryEdited,
        description: 'An expression giving a date, for example plan_end_date.',
      }),
      entry('assignee', TaskPropertyText, {
        label: 'Assignee', isEdited: isTextFieldEntryEdited,
        description: 'An expression giving a user id, for example case_manager_id.',
      }),
    ],
  };
}

function ConditionEntry(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  const businessObject = getBusinessObject(element);
  return TextAreaEntry({
    element,
    id,
    label: translate('Condition'),
    description: translate('An expression over the task data, for example decision == "approve".'),
    monospace: true,
    autoResize: true,
    rows: 2,
    debounce,
    getValue: () => businessObject.get('conditionExpression')?.get('body') || '',
    setValue: (value) => {
      const text = (value || '').trim();
      const expression = text
        ? injector.get('bpmnFactory').create('bpmn:FormalExpression', { body: text })
        : undefined;
      injector.get('modeling').updateProperties(element, { conditionExpression: expression });
    },
  });
}

function DefaultFlowEntry(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const translate = useService('translate');
  const source = element.source;
  return ToggleSwitchEntry({
    element,
    id,
    label: translate('Default flow'),
    switcherLabel: translate('Taken when no condition holds'),
    inline: true,
    getValue: () => getBusinessObject(source).get('default') === getBusinessObject(element),
    setValue: (on) => modeling.updateProperties(source, { default: on ? getBusinessObject(element) : undefined }),
  });
}

function conditionGroup(element, translate) {
  const entries = [{ id: 'condition', element, component: ConditionEntry, isEdited: isTextAreaEntryEdited }];
  if (isAny(element.source, CONDITIONAL_GATEWAYS)) {
    entries.push({ id: 'defaultFlow', element, component: DefaultFlowEntry, isEdited: isToggleSwitchEntryEdited });
  }
  return { id: 'spiffCondition', label: translate('Condition'), component: Group, entries };
}

function OperationEntry(props) {
  const { element, id, operations } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const getValue = () => operatorOf(element)?.get('id') || '';
  return SelectEntry({
    element,
    id,
    label: translate('Operation'),
    getValue,
    setValue: (value) => setOperator(injector, element, { id: value || undefined }),
    getOptions: () => withCurrent(
      [{ value: '', label: translate('(none)') }, ...operations.map((name) => ({ value: name, label: name }))],
      getValue()),
  });
}

function ResultVariableEntry(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  return TextFieldEntry({
    element,
    id,
    label: translate('Result variable'),
    description: translate('The data name that keeps what the operation returns.'),
    debounce,
    getValue: () => operatorOf(element)?.get('resultVariable') || '',
    setValue: (value) => setOperator(injector, element, { resultVariable: (value || '').trim() || undefined }),
  });
}

function ParameterField(props) {
  const { element, id, parameter, field, label } = props;
  const modeling = useService('modeling');
  const translate = useService('translate');
  const debounce = useService('debounceInput');
  return TextFieldEntry({
    element,
    id,
    label: translate(label),
    debounce,
    getValue: () => parameter.get(field) || '',
    setValue: (value) => modeling.updateModdleProperties(element, parameter, { [field]: (value || '').trim() }),
  });
}

function serviceGroups(element, choices, injector, translate) {
  const service = {
    id: 'spiffService',
    label: translate('Service'),
    component: Group,
    entries: [
      { id: 'operation', element, component: OperationEntry, operations: choices.operations,
        isEdited: isSelectEntryEdited },
      { id: 'resultVariable', element, component: ResultVariableEntry, isEdited: isTextFieldEntryEdited },
    ],
  };
  const modeling = injector.get('modeling');
  const parameters = parametersOf(element);
  const items = parameters.map((parameter, index) => ({
    id: `parameter-${index}`,
    label: parameter.get('id') || translate('(none)'),
    entries: [
      { id: `parameter-${index}-id`, element, parameter, field: 'id', label: 'Name', component: ParameterField,
        isEdited: isTextFieldEntryEdited },
      { id: `parameter-${index}-value`, element, parameter, field: 'value', label: 'Value (an expression)',
        component: ParameterField, isEdited: isTextFieldEntryEdited },
    ],
    autoFocusEntry: `parameter-${index}-id`,
    remove: () => {
      const holder = operatorOf(element).get('parameters');
      modeling.updateModdleProperties(element, holder, {
        entries: holder.get('entries').filter((entry) => entry !== parameter),
      });
    },
  }));
  function add(event) {
    event.stopPropagation();
    const bpmnFactory = injector.get('bpmnFactory');
    if (!operatorOf(element)) {
      setOperator(injector, element, {});
    }
    const holder = operatorOf(element).get('parameters');
    const taken = new Set(holder.get('entries').map((entry) => entry.get('id')));
    let number = holder.get('entries').length + 1;
    while (taken.has(`parameter_${number}`)) {
      number += 1;
    }
    const created = bpmnFactory.create('spiffworkflow:Parameter', {
      id: `parameter_${number}`, type: 'any', value: '' });
    created.$parent = holder;
    modeling.updateModdleProperties(element, holder, { entries: [...holder.get('entries'), created] });
  }
  return [service, {
    id: 'spiffParameters', label: translate('Parameters'), component: ListGroup, items, add, translate, element,
  }];
}

function RoleEntry(props) {
  const { element, id, roles } = props;
  const modeling = useService('modeling');
  const translate = useService('translate');
  const getValue = () => getBusinessObject(element).get('name') || '';
  return SelectEntry({
    element,
    id,
    label: translate('Role (the lane\'s name)'),
    getValue,
    setValue: (value) => modeling.updateProperties(element, { name: value || undefined }),
    getOptions: () => withCurrent(
      [{ value: '', label: translate('(none)') },
        ...roles.map(keyAndLabel)],
      getValue()),
  });
}

// --- the provider -------------------------------------------------------------------------------------------

export class SpiffPropertiesProvider {
  constructor(propertiesPanel, injector, translate) {
    this._injector = injector;
    this._translate = translate;
    const given = injector.get('config.spiffProperties', false);
    this._choices = { forms: [], stages: [], roles: [], operations: [], ...given };
    propertiesPanel.registerProvider(400, this);
  }

  getGroups(element) {
    return (groups) => {
      const translate = this._translate;
      const added = [];
      if (is(element, 'bpmn:UserTask')) {
        added.push(userTaskGroup(element, this._choices, translate));
      }
      if (is(element, 'bpmn:ServiceTask')) {
        added.push(...serviceGroups(element, this._choices, this._injector, translate));
      }
      if (is(element, 'bpmn:SequenceFlow') && isAny(element.source, CONDITIONAL_GATEWAYS)) {
        added.push(conditionGroup(element, translate));
      }
      if (is(element, 'bpmn:Lane') && this._choices.roles.length) {
        const general = groups.find((group) => group.id === 'general');
        const name = general?.entries.findIndex((entry) => entry.id === 'name');
        if (name >= 0) {
          general.entries[name] = { id: 'name', element, component: RoleEntry, roles: this._choices.roles,
            isEdited: isSelectEntryEdited };
        }
      }
      // Ours come right after the general group (id and name), before the documentation.
      const at = groups.findIndex((group) => group.id === 'general') + 1;
      groups.splice(at, 0, ...added);
      return groups;
    };
  }
}
SpiffPropertiesProvider.$inject = ['propertiesPanel', 'injector', 'translate'];

export const spiffPropertiesModule = {
  __init__: ['spiffPropertiesProvider'],
  spiffPropertiesProvider: ['type', SpiffPropertiesProvider],
};
