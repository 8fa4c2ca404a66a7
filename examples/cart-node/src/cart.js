'use strict';
// Totals of carts, in cents.

const { findCoupon } = require('./coupons');

function subtotal(cart) {
  return cart.items.reduce((sum, item) => sum + item.price * item.qty, 0);
}

function discount(amount, code) {
  const coupon = findCoupon(code);
  return Math.round((amount * coupon.percent) / 100);
}

function cartTotal(cart) {
  const amount = subtotal(cart);
  if (!cart.coupon) {
    return amount;
  }
  return amount - discount(amount, cart.coupon);
}

module.exports = { subtotal, discount, cartTotal };
