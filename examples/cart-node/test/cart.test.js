'use strict';
const test = require('node:test');
const assert = require('node:assert');

const { subtotal, cartTotal } = require('../src/cart');

const items = [
  { sku: 'TEA-GREEN', price: 450, qty: 2 },
  { sku: 'MUG', price: 1200, qty: 1 },
];

test('subtotal sums price times quantity', () => {
  assert.strictEqual(subtotal({ items }), 2100);
});

test('a cart without a coupon pays the subtotal', () => {
  assert.strictEqual(cartTotal({ id: 1, items }), 2100);
});

test('a known coupon takes its percentage off', () => {
  assert.strictEqual(cartTotal({ id: 2, items, coupon: 'welcome10' }), 1890);
});
