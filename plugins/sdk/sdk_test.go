package sdk_test

import (
	"context"
	"errors"
	"testing"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// TestUnimplementedCheckIsNotHealthy: a connector that does not implement
// Check must not pass for a healthy one; the hub says "not checked".
func TestUnimplementedCheckIsNotHealthy(t *testing.T) {
	err := sdk.Unimplemented{}.Check(context.Background())
	if !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("Unimplemented.Check = %v, want ErrUnsupported", err)
	}
}
