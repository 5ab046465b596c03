package storage

import "strconv"

// OpenUpload starts a multipart upload of key and leaves it open, as an
// agent killed mid-upload does, for tests of what sweeps such uploads.
func (m *MemStore) OpenUpload(key string) PendingUpload {
	u := &memUpload{m: m, key: key}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.init()
	m.nextID++
	u.id = "open-" + strconv.Itoa(m.nextID)
	p := &memPending{PendingUpload: PendingUpload{Key: key, UploadID: u.id, Initiated: m.now()}, parts: map[int][]byte{}}
	m.uploads[u.id] = p
	return p.PendingUpload
}
