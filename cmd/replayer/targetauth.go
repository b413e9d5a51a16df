package main

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// targetPasswordEnv holds the password of the user a --target URI names. A
// password inside the URI shows in ps and in shell history; this keeps it
// out of both, as TIDELOG_KAFKA_PASSWORD does for Kafka.
const targetPasswordEnv = "TIDELOG_TARGET_PASSWORD"

// targetPassword sets the password of the user opts' URI names from
// targetPasswordEnv, when that is set. Either the URI or the variable
// gives the password, never both: which one would win is not obvious.
func targetPassword(opts *options.ClientOptions, lookup func(string) (string, bool)) error {
	pw, ok := lookup(targetPasswordEnv)
	if !ok || pw == "" {
		return nil
	}
	switch {
	case opts.Auth == nil || opts.Auth.Username == "":
		return fmt.Errorf("%s is set but the target URI names no user: put the user in the URI (mongodb://USER@HOST/...)", targetPasswordEnv)
	case opts.Auth.PasswordSet:
		return errors.New("the target URI holds a password and " + targetPasswordEnv + " is set too: give the password one way (the variable keeps it out of ps)")
	}
	opts.Auth.Password, opts.Auth.PasswordSet = pw, true
	return nil
}
