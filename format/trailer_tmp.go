package format

// decodeTrailer keeps the trailer raw until the Java codec lands (TEMPORARY).
func decodeTrailer(b []byte, base int64) (*CheckpointProperties, error) {
	return &CheckpointProperties{Raw: b}, nil
}

// encodeTrailer writes the raw trailer until the Java codec lands (TEMPORARY).
func encodeTrailer(dst []byte, p *CheckpointProperties) ([]byte, error) {
	if p.Raw != nil {
		return append(dst, p.Raw...), nil
	}
	return append(dst, 0xAC, 0xED, 0x00, 0x05, 0x70), nil
}
