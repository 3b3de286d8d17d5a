/** The shop's products. Prices in cents. */
export interface Product {
  readonly sku: string
  readonly name: string
  /** The colour of the product's badge. */
  readonly color: string
  readonly price: number
}

export const CATALOGUE: readonly Product[] = [
  { sku: 'apple', name: 'Apples', color: '#c0392b', price: 50 },
  { sku: 'bread', name: 'Sourdough bread', color: '#b9770e', price: 420 },
  { sku: 'cheese', name: 'Comté', color: '#d4ac0d', price: 680 },
  { sku: 'coffee', name: 'Coffee beans', color: '#6e4b3a', price: 1150 },
  { sku: 'eggs', name: 'Eggs (6)', color: '#a08a6c', price: 310 },
  { sku: 'milk', name: 'Oat milk', color: '#5d8aa8', price: 190 },
  { sku: 'pasta', name: 'Pasta', color: '#ca6f1e', price: 230 },
  { sku: 'tomato', name: 'Tomatoes', color: '#e74c3c', price: 40 },
]

export function product(sku: string): Product | undefined {
  return CATALOGUE.find((entry) => entry.sku === sku)
}

export function money(cents: number): string {
  return `€${(cents / 100).toFixed(2)}`
}
