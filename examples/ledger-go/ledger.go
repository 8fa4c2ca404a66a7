// Package main is a tiny double-entry ledger: it posts transfers between accounts and prints the
// balances. Crashloom's Go example.
package main

import "fmt"

// Ledger holds the balance of every account, in cents.
type Ledger struct {
	Currency string
	balances map[string]int64
}

// NewLedger returns an empty ledger in the given currency.
func NewLedger(currency string) *Ledger {
	return &Ledger{Currency: currency}
}

// Balance returns the balance of an account; accounts never posted to have a balance of zero.
func (l *Ledger) Balance(account string) int64 {
	return l.balances[account]
}

// Post moves amount cents from one account to another.
func (l *Ledger) Post(t Transfer) error {
	if t.Amount <= 0 {
		return fmt.Errorf("transfer %s: amount must be positive, got %d", t.ID, t.Amount)
	}
	if t.From == t.To {
		return fmt.Errorf("transfer %s: from and to are both %s", t.ID, t.From)
	}
	l.balances[t.From] -= t.Amount
	l.balances[t.To] += t.Amount
	return nil
}
