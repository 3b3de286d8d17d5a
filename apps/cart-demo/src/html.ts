// Text placed into markup: everything the page draws from data (product names, notes, peer ids)
// passes through here, since peers and other tabs write that data.

/** `text` with the characters that are special in HTML text and attributes escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`)
}
