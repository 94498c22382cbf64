// How values read on the page.

import {h} from './dom.js';

/** "2030-01-01 23:59 UTC" in a <time>, or `none` when there is no date. */
function dateText(iso, none = '—') {
  if (!iso) return none;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function count(number) {
  return Number(number).toLocaleString('en');
}

/** Who made a token or an entry: its name, and what kind of actor it is. */
export function creatorText(record) {
  const name = record.creatorName ?? record.creatorId ?? 'unknown';
  const kind = record.creatorType === 'apiToken' ? 'API token' : record.creatorType;
  return kind ? `${name} (${kind})` : name;
}

/** A date as a <time> element (its machine-readable value kept). */
export function time(iso, none) {
  return iso ? h('time', {datetime: iso}, dateText(iso)) : dateText(iso, none);
}
