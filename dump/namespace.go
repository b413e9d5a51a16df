package dump

// Namespace is a collection of the dump. In an archive made with --oplog
// the oplog is the namespace {DB: "", Collection: "oplog"} (IsOplog).
type Namespace struct {
	DB, Collection string
}

// String is "db.collection" (".oplog" for an archive's oplog).
func (n Namespace) String() string { return n.DB + "." + n.Collection }

// IsOplog tells whether n is the oplog mongodump --oplog wrote into an archive.
func (n Namespace) IsOplog() bool { return n.DB == "" && n.Collection == "oplog" }

// Collection describes one namespace of a dump.
type Collection struct {
	Namespace
	// Metadata is the parsed metadata (options, indexes, uuid, type); nil
	// when the dump has none for this namespace (an archive's oplog, a
	// directory's .bson without .metadata.json).
	Metadata *Metadata
	// Size and Type and UUID come from an archive's prelude entry: the
	// uncompressed bytes mongodump expected to dump, the collection type
	// ("collection", "view", "timeseries"; often empty) and the UUID
	// (newer tools). Directory dumps leave them zero.
	Size int64
	Type string
	UUID string
	// DataFile and MetadataFile are a directory dump's files for this
	// namespace ("" when absent); archives leave them empty.
	DataFile, MetadataFile string
}
