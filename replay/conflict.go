package replay

import (
	"fmt"
	"strings"
)

// ConflictError says the target already holds namespaces the restore would write.
type ConflictError struct{ Namespaces []string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the target already holds %s; restore into an empty target or pass --drop to replace them",
		strings.Join(e.Namespaces, ", "))
}
