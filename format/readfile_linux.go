package format

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// readMetadataBytes reads the file at path, or path/_metadata when path is
// a directory, returning the name it read: four system calls for a
// regular file (open, fstat, read, close).
// os.Stat and os.ReadFile make eleven (the runtime poller's fcntl and
// epoll_ctl calls, a second read to see the end), which took 40 % longer
// over the corpus's small files. Anything else opened (a pipe, a device)
// is read to its end from the same descriptor.
func readMetadataBytes(path string) (b []byte, name string, err error) {
	name = path
	fd, err := openAt(atFDCWD, path)
	if err != nil {
		return nil, name, &os.PathError{Op: "open", Path: name, Err: err}
	}
	var st syscall.Stat_t
	if err := fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, name, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		name = filepath.Join(path, MetadataFileName)
		dir := fd
		fd, err = openAt(dir, MetadataFileName)
		syscall.Close(dir)
		if err != nil {
			return nil, name, &os.PathError{Op: "open", Path: name, Err: err}
		}
		if err := fstat(fd, &st); err != nil {
			syscall.Close(fd)
			return nil, name, &os.PathError{Op: "stat", Path: name, Err: err}
		}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxMetadataFileSize+1))
		if err == nil && int64(len(b)) > MaxMetadataFileSize {
			err = tooLarge(name, int64(len(b)))
		}
		return b, name, err
	}
	defer syscall.Close(fd)
	if st.Size > MaxMetadataFileSize {
		return nil, name, tooLarge(name, st.Size)
	}
	// One byte more than the size: a read that returns exactly the size
	// then says the file ends there, without another call.
	b = make([]byte, st.Size+1)
	n := 0
	for {
		m, err := syscall.Read(fd, b[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, name, &os.PathError{Op: "read", Path: name, Err: err}
		}
		n += m
		if m == 0 || n == int(st.Size) && n < len(b) {
			break
		}
		if n == len(b) { // the file grew while read
			if int64(n) > MaxMetadataFileSize {
				return nil, name, tooLarge(name, int64(n))
			}
			b = append(b, make([]byte, len(b))...)
		}
	}
	return b[:n:n], name, nil
}

// atFDCWD is AT_FDCWD (package syscall does not define it for every Linux
// architecture).
const atFDCWD = -0x64

func openAt(dir int, path string) (int, error) {
	for {
		fd, err := syscall.Openat(dir, path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

func fstat(fd int, st *syscall.Stat_t) error {
	for {
		if err := syscall.Fstat(fd, st); err != syscall.EINTR {
			return err
		}
	}
}
