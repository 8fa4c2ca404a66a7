'use strict';
// The coupons the shop accepts, by code.

const COUPONS = [
  { code: 'WELCOME10', percent: 10 },
  { code: 'SPRING25', percent: 25 },
];

function findCoupon(code) {
  return COUPONS.find((coupon) => coupon.code === code.toUpperCase());
}

module.exports = { COUPONS, findCoupon };
