package storeurl

// parseFile reads file:///path (or file://localhost/path): a directory
// store at an absolute path. A relative directory is given as a plain path.
func parseFile(raw string, u parts) (Location, error) {
	if u.authority != "" && u.authority != "localhost" {
		return Location{}, invalid(raw, "a file URL names an absolute path, file:///path (three slashes); "+
			"for a relative directory give the plain path")
	}
	if u.path == "" {
		return Location{}, invalid(raw, "no directory: want file:///path")
	}
	if err := u.query.done("file"); err != nil {
		return Location{}, err
	}
	return Location{Kind: Dir, Path: "/" + u.path}, nil
}
