/**
 * A tiny element builder. Children that are strings become text nodes, so data from the server
 * (notes, names, error messages) is always text and never parsed as HTML. There is deliberately
 * no way to set innerHTML or a style attribute: the page runs under a CSP without 'unsafe-inline'.
 */

export type Child = Node | string | number | null | undefined | false;
type Handler = (event: Event) => void;
export type Attrs = { [name: string]: string | number | boolean | null | undefined | Handler };

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") {
      element.addEventListener(name.replace(/^on/, "").toLowerCase(), value);
    } else if (name === "style" || name.toLowerCase().startsWith("on")) {
      throw new Error(`refusing to set ${name} as an attribute`);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

let sequence = 0;
/** Unique ids for label/aria wiring. */
export const uid = (prefix: string) => `${prefix}-${++sequence}`;

/** Text visible to screen readers only. */
export const srOnly = (text: string) => h("span", { class: "sr-only" }, text);
