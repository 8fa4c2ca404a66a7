'use strict';
// Prints the total of every cart of a JSON file.
//
//     node src/cli.js data/orders.json

const fs = require('node:fs');
const { cartTotal } = require('./cart');

function main(path) {
  const carts = JSON.parse(fs.readFileSync(path, 'utf8'));
  for (const cart of carts) {
    const total = cartTotal(cart);
    console.log(`cart ${cart.id}: ${(total / 100).toFixed(2)} EUR`);
  }
}

main(process.argv[2]);
