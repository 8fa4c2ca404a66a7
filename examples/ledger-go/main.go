package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Transfer is one line of a transfers file.
type Transfer struct {
	ID     string `json:"id"`
	From   string `json:"from"`
	To     string `json:"to"`
	Amount int64  `json:"amount"`
}

// run posts every transfer of a JSON file and prints the resulting balances.
//
//	go run . data/transfers.json
func run(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var transfers []Transfer
	if err := json.Unmarshal(data, &transfers); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ledger := NewLedger("EUR")
	accounts := map[string]bool{}
	for _, t := range transfers {
		if err := ledger.Post(t); err != nil {
			return err
		}
		accounts[t.From], accounts[t.To] = true, true
	}
	names := make([]string, 0, len(accounts))
	for name := range accounts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Printf("%-10s %10.2f %s\n", name, float64(ledger.Balance(name))/100, ledger.Currency)
	}
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ledger TRANSFERS.json")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
