// Keyboard: one window listener (installed by App) dispatches to handlers by priority; the
// first one that returns true consumes the key. Handlers decide for themselves whether to act
// while the user types in a field (`isTyping`) — by default nothing steals keys from inputs.

export type KeyHandler = (e: KeyboardEvent) => boolean | void;

type Entry = { priority: number; handler: KeyHandler; seq: number };
const handlers: Entry[] = [];
let seq = 0;

/** Priorities: dialogs 100, text viewer 50, views 10, app 0. Returns the unregister function. */
export function onKey(priority: number, handler: KeyHandler): () => void {
  const e: Entry = { priority, handler, seq: seq++ };
  handlers.push(e);
  handlers.sort((a, b) => b.priority - a.priority || b.seq - a.seq);
  return () => {
    const i = handlers.indexOf(e);
    if (i >= 0) handlers.splice(i, 1);
  };
}

export function dispatchKey(e: KeyboardEvent): void {
  for (const h of [...handlers]) {
    if (h.handler(e) === true) {
      e.preventDefault();
      e.stopPropagation();
      return;
    }
  }
}

/** True when the event comes from a text field (input, textarea, select, contenteditable). */
export function isTyping(e: Event): boolean {
  const t = e.target as HTMLElement | null;
  if (!t || !t.tagName) return false;
  const tag = t.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const type = (t as HTMLInputElement).type;
    return !["checkbox", "radio", "button", "submit", "reset"].includes(type);
  }
  return t.isContentEditable;
}

/** No modifiers except Shift. */
export function plain(e: KeyboardEvent): boolean {
  return !e.ctrlKey && !e.metaKey && !e.altKey;
}

export function isFindKey(e: KeyboardEvent): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "f" || e.key === "F");
}

/** Ctrl+K (⌘K on a Mac): opens / closes the command palette, even from a text field. */
export function isPaletteKey(e: KeyboardEvent): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "k";
}

/** True on macOS, where the palette key is shown as ⌘K. */
export const isMac: boolean = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.userAgent);

/** The key map shown by `?`. */
export const KEY_MAP: { keys: string[]; what: string; where: string }[] = [
  { keys: ["j", "↓"], what: "Next row / item", where: "lists" },
  { keys: ["k", "↑"], what: "Previous row / item", where: "lists" },
  { keys: ["Enter"], what: "Open the selected row / hit", where: "lists" },
  { keys: ["←", "→"], what: "Previous / next iteration", where: "run" },
  { keys: ["[", "]"], what: "Previous / next tab", where: "run" },
  { keys: ["1", "…", "9"], what: "Switch to tab 1…9", where: "run" },
  { keys: ["/"], what: "Find in file (text viewer) or focus search", where: "everywhere" },
  { keys: ["Ctrl", "F"], what: "Find in file (text viewer) or focus search", where: "everywhere" },
  { keys: ["Enter", "Shift+Enter"], what: "Next / previous match", where: "find box" },
  { keys: ["g", "r"], what: "Go to runs", where: "everywhere" },
  { keys: ["g", "s"], what: "Go to search", where: "everywhere" },
  { keys: ["Ctrl", "O"], what: "Open a workspace", where: "everywhere" },
  { keys: ["Ctrl", "K"], what: "Command palette: runs, matching lines, pasted links, commands", where: "everywhere" },
  { keys: ["Esc"], what: "Close find / dialog, else back to runs", where: "everywhere" },
  { keys: ["?"], what: "This list", where: "everywhere" },
];
