package optional

import (
	"encoding/json"
	"testing"
)

func TestAbsentNullAndValueDiffer(t *testing.T) {
	var in struct {
		Cap Field[int] `json:"cap"`
	}
	if err := json.Unmarshal([]byte(`{}`), &in); err != nil || in.Cap.Set {
		t.Fatalf("absent: %+v %v", in.Cap, err)
	}
	if err := json.Unmarshal([]byte(`{"cap": null}`), &in); err != nil || !in.Cap.Set || !in.Cap.Null {
		t.Fatalf("null: %+v %v", in.Cap, err)
	}
	if err := json.Unmarshal([]byte(`{"cap": 5}`), &in); err != nil || !in.Cap.Set || in.Cap.Null || in.Cap.Value != 5 {
		t.Fatalf("value: %+v %v", in.Cap, err)
	}
	if err := json.Unmarshal([]byte(`{"cap": "five"}`), &in); err == nil {
		t.Fatal("a string was accepted for an int field")
	}
}
