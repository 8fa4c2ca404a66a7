import unittest

from shop.orders import order_total, receipt

CUSTOMERS = {"c-1": {"name": "Ada"}}


class OrderTests(unittest.TestCase):
    def test_total_sums_items(self):
        order = {"id": 1, "customer": "c-1", "items": [{"sku": "MUG", "qty": 2}, {"sku": "TEA-GREEN", "qty": 1}]}
        self.assertEqual(order_total(order), 2850)

    def test_receipt_names_the_customer(self):
        order = {"id": 2, "customer": "c-1", "items": [{"sku": "TEA-BLACK", "qty": 1}]}
        self.assertEqual(receipt(order, CUSTOMERS), "Ada: 4.00 EUR")


if __name__ == "__main__":
    unittest.main()
