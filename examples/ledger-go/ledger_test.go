package main

import "testing"

func TestNewLedgerStartsAtZero(t *testing.T) {
	ledger := NewLedger("EUR")
	if got := ledger.Balance("cash"); got != 0 {
		t.Fatalf("balance of a new account = %d, want 0", got)
	}
	if ledger.Currency != "EUR" {
		t.Fatalf("currency = %q, want EUR", ledger.Currency)
	}
}

func TestPostRejectsANonPositiveAmount(t *testing.T) {
	ledger := NewLedger("EUR")
	if err := ledger.Post(Transfer{ID: "t-1", From: "cash", To: "bank", Amount: 0}); err == nil {
		t.Fatal("posting a zero amount succeeded, want an error")
	}
}

func TestPostRejectsATransferToItself(t *testing.T) {
	ledger := NewLedger("EUR")
	if err := ledger.Post(Transfer{ID: "t-2", From: "cash", To: "cash", Amount: 500}); err == nil {
		t.Fatal("posting from an account to itself succeeded, want an error")
	}
}
