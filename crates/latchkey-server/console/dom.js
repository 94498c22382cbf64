// Building the page. Every string becomes a text node or a property: nothing
// the server sends is ever parsed as HTML (tests/console.rs checks that no
// file of the console uses an HTML-parsing API).

// Characters that could reorder or hide the text around them, or that have
// no business in a name: C0 and C1 controls but tab and newline, DEL, and
// the bidirectional marks, overrides and isolates. The same set the CLI
// replaces, so a token named "ESC [2J" or with a right-to-left override
// shows the same on both.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every unsafe character shown as U+FFFD. */
export function printable(text) {
  return String(text).replace(UNSAFE, '\ufffd');
}

// Set as DOM properties, not attributes: their live state is the property.
const PROPERTIES = new Set(['value', 'checked', 'selected', 'indeterminate']);

/**
 * An element: `h('button', {type: 'submit', onclick: f}, 'Save')`.
 * Props named on… are event listeners; `class` the class name; `value`,
 * `checked` and `selected` properties; any other an attribute (`true` is
 * present and empty, `false`, null and undefined absent). Children are
 * nodes, strings (shown with `printable`), or arrays of them.
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (PROPERTIES.has(key)) node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

/** Appends children as `h` takes them. */
export function append(node, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(printable(child)));
  }
  return node;
}

/** Replaces what `node` holds. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

let lastId = 0;
/** A fresh id, for labels and descriptions. */
export function uniqueId(base) {
  lastId += 1;
  return `${base}-${lastId}`;
}

/** A labelled form field: the label, then the control, then an optional hint. */
export function field(label, control, hint) {
  control.id ||= uniqueId('field');
  const hintNode = hint && h('p', {class: 'hint', id: uniqueId('hint')}, hint);
  if (hintNode) control.setAttribute('aria-describedby', hintNode.id);
  return h('div', {class: 'field'}, h('label', {for: control.id}, label), control, hintNode);
}

/** A `<select>` of [value, label] pairs with `selected` chosen. */
export function select(props, options, selected) {
  return h(
    'select',
    props,
    options.map(([value, label]) => h('option', {value, selected: value === selected}, label)),
  );
}

/**
 * Why a control is missing or disabled, said next to where it would be:
 * `action` is the scope action the token lacks.
 */
export function notAllowed(what, action) {
  return h('p', {class: 'reason'}, `${what}: this token's scopes do not grant ${action}.`);
}

/** A button that does nothing but say why, tied to its reason. */
export function disabledButton(label, action) {
  const reason = notAllowed(`${label} is not available`, action);
  reason.id = uniqueId('reason');
  return [h('button', {type: 'button', disabled: true, 'aria-describedby': reason.id}, label), reason];
}

/** An error in words: the server's type and message, never its raw JSON. */
export function errorMessage(error) {
  return h('div', {class: 'error', role: 'alert'}, h('strong', {}, `${error.title ?? 'Error'}: `), error.message);
}

/** A status line read out by screen readers when it changes. */
export function statusLine() {
  return h('p', {class: 'status', role: 'status'});
}

/**
 * Asks before something that cannot be undone, in a modal `<dialog>`
 * (focus stays inside, Escape cancels). Resolves true when confirmed.
 */
export function confirmDialog({title, message, confirmLabel}) {
  return new Promise((resolve) => {
    const titleId = uniqueId('dialog-title');
    const dialog = h(
      'dialog',
      {class: 'confirm', 'aria-labelledby': titleId},
      h('h2', {id: titleId}, title),
      h('p', {}, message),
      h(
        'form',
        {method: 'dialog', class: 'actions'},
        h('button', {value: 'cancel', autofocus: true}, 'Cancel'),
        h('button', {value: 'confirm', class: 'danger'}, confirmLabel),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
