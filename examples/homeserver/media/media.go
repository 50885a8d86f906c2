// Package media is the example homeserver's content repository
// (content/client-server-api/modules/content_repo.md): files in a
// directory, their metadata in a SQLite database beside them. It
// implements clientapi.Media (uploads, asynchronous uploads, downloads
// and thumbnails of local and remote media), federation.MediaRepository
// (serving local media to other servers) and clientapi.URLPreviewer.
//
// Remote media is fetched over federation (GET
// /_matrix/federation/v1/media/download and thumbnail) and kept: the
// first request fetches, later ones are served from the cache, which is
// bounded in bytes (the media fetched longest ago goes first). Each
// user's uploads are bounded in total bytes.
// Thumbnails are made at the sizes the spec recommends ("Thumbnails":
// 32x32 and 96x96 crop, 320x240, 640x480 and 800x600 scale), never
// upscaled, and kept once made.
//
// The deprecated unauthenticated download and thumbnail endpoints are not
// frozen (the spec's SHOULD from v1.12): matrix-nio 0.20, the release
// Debian ships, downloads through them only.
//
// Files are written to a temporary name, synced and renamed, and only
// then recorded in the database, so a crash leaves at worst an
// unreferenced file, never a record without its content.
package media

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/federation"
	_ "modernc.org/sqlite"
)

// Remote fetches media from other servers; *federation.Client is one.
type Remote interface {
	DownloadMedia(ctx context.Context, dest, mediaID string) (*federation.Media, error)
	Thumbnail(ctx context.Context, dest, mediaID string, width, height int, method string) (*federation.Media, error)
}

// Config sets up a Store.
type Config struct {
	// Dir holds the files and media.db; created if needed.
	Dir string
	// ServerName is the homeserver's name: media of other servers is
	// remote.
	ServerName string
	// MaxSize bounds uploads and remote media (0: clientapi.DefaultMaxUploadSize).
	MaxSize int64
	// MaxPixels bounds the images thumbnailed (0: 32 megapixels): a
	// larger one answers M_TOO_LARGE ("Security considerations").
	MaxPixels int
	// UnusedExpiry is how long an ID from create waits for its content
	// (0: 24 hours, as the spec recommends); MaxPending bounds a user's
	// IDs still waiting (0: 10).
	UnusedExpiry time.Duration
	MaxPending   int
	// MaxUserBytes bounds the total size of one user's uploads (0: 1
	// GiB); an upload past it is 403 M_FORBIDDEN ("Homeservers should
	// limit the number and total size of media that can be uploaded by
	// clients").
	MaxUserBytes int64
	// MaxRemoteCache bounds the bytes of remote media kept (0: 1 GiB):
	// past it the media fetched longest ago is dropped, with its
	// thumbnails, and fetched again when asked for ("Homeservers should
	// restrict the number and size of remote files that it caches").
	MaxRemoteCache int64
	// AllowPrivate lets URL previews and media redirects reach loopback
	// and private addresses (tests only).
	AllowPrivate bool
}

// Store is the content repository.
type Store struct {
	cfg    Config
	db     *sql.DB
	remote Remote
	// fetch is the HTTP client of URL previews and media redirects,
	// dialing through the federation package's address guard.
	fetch *http.Client

	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

const schema = `
CREATE TABLE IF NOT EXISTS media (
	server_name  TEXT NOT NULL,
	media_id     TEXT NOT NULL,
	owner        TEXT NOT NULL DEFAULT '',
	content_type TEXT NOT NULL DEFAULT '',
	file_name    TEXT NOT NULL DEFAULT '',
	size         INTEGER NOT NULL DEFAULT 0,
	path         TEXT NOT NULL DEFAULT '',
	created_ts   INTEGER NOT NULL,
	expires_ts   INTEGER NOT NULL DEFAULT 0,
	uploaded     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (server_name, media_id)
);
CREATE TABLE IF NOT EXISTS thumbnails (
	server_name  TEXT NOT NULL,
	media_id     TEXT NOT NULL,
	width        INTEGER NOT NULL,
	height       INTEGER NOT NULL,
	method       TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	path         TEXT NOT NULL,
	PRIMARY KEY (server_name, media_id, width, height, method)
);
`

// Open opens (creating if needed) the repository in cfg.Dir.
func Open(cfg Config) (*Store, error) {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = clientapi.DefaultMaxUploadSize
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = 32 << 20
	}
	if cfg.UnusedExpiry <= 0 {
		cfg.UnusedExpiry = 24 * time.Hour
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 10
	}
	if cfg.MaxUserBytes <= 0 {
		cfg.MaxUserBytes = 1 << 30
	}
	if cfg.MaxRemoteCache <= 0 {
		cfg.MaxRemoteCache = 1 << 30
	}
	for _, d := range []string{"files", "tmp"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("media directory: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(cfg.Dir, "media.db")+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("media database: %w", err)
	}
	guard := &federation.Resolver{AllowPrivate: cfg.AllowPrivate}
	s := &Store{cfg: cfg, db: db, waiters: map[string][]chan struct{}{},
		fetch: &http.Client{
			Timeout:   20 * time.Second,
			Transport: &http.Transport{DialContext: guard.DialContext, ResponseHeaderTimeout: 10 * time.Second},
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				return nil
			},
		}}
	return s, nil
}

// SetRemote sets how remote media is fetched (nil: remote media is not
// found).
func (s *Store) SetRemote(r Remote) { s.remote = r }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func newMediaID() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func key(serverName, mediaID string) string { return serverName + "/" + mediaID }

// writeFile copies r into a new file of the repository and returns its
// path relative to Dir and its size. The file is synced before it is
// renamed into place; on error nothing is left behind.
func (s *Store) writeFile(r io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.cfg.Dir, "tmp"), "up-")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, err
	}
	var b [16]byte
	rand.Read(b[:])
	name := hex.EncodeToString(b[:])
	rel := filepath.Join("files", name[:2], name)
	if err := os.MkdirAll(filepath.Join(s.cfg.Dir, "files", name[:2]), 0o700); err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.cfg.Dir, rel)); err != nil {
		return "", 0, err
	}
	return rel, n, nil
}

func (s *Store) removeFile(rel string) { os.Remove(filepath.Join(s.cfg.Dir, rel)) }

// CreateMedia implements clientapi.Media.
func (s *Store) CreateMedia(ctx context.Context, who clientapi.Identity) (string, int64, error) {
	now := time.Now()
	var pending int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM media WHERE server_name=? AND owner=? AND uploaded=0 AND expires_ts>?`,
		s.cfg.ServerName, who.UserID, now.UnixMilli()).Scan(&pending)
	if err != nil {
		return "", 0, err
	}
	if pending >= s.cfg.MaxPending {
		return "", 0, clientapi.LimitExceeded(time.Minute)
	}
	id := newMediaID()
	exp := now.Add(s.cfg.UnusedExpiry).UnixMilli()
	_, err = s.db.ExecContext(ctx, `INSERT INTO media (server_name, media_id, owner, created_ts, expires_ts) VALUES (?, ?, ?, ?, ?)`,
		s.cfg.ServerName, id, who.UserID, now.UnixMilli(), exp)
	if err != nil {
		return "", 0, err
	}
	return id, exp, nil
}

// UploadMedia implements clientapi.Media.
func (s *Store) UploadMedia(ctx context.Context, who clientapi.Identity, mediaID string, up clientapi.MediaUpload) (string, error) {
	if mediaID != "" {
		// Check before reading the body, so a refused upload costs
		// nothing; checked again when recorded.
		if err := s.checkPending(ctx, who, mediaID); err != nil {
			return "", err
		}
	}
	rel, size, err := s.writeFile(up.Body)
	if err != nil {
		return "", err
	}
	if err := s.checkQuota(ctx, who, size); err != nil {
		s.removeFile(rel)
		return "", err
	}
	now := time.Now().UnixMilli()
	if mediaID == "" {
		mediaID = newMediaID()
		_, err = s.db.ExecContext(ctx, `INSERT INTO media (server_name, media_id, owner, content_type, file_name, size, path, created_ts, uploaded)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`, s.cfg.ServerName, mediaID, who.UserID, up.ContentType, up.FileName, size, rel, now)
	} else {
		var res sql.Result
		res, err = s.db.ExecContext(ctx, `UPDATE media SET content_type=?, file_name=?, size=?, path=?, uploaded=1
			WHERE server_name=? AND media_id=? AND owner=? AND uploaded=0 AND expires_ts>?`,
			up.ContentType, up.FileName, size, rel, s.cfg.ServerName, mediaID, who.UserID, now)
		if err == nil {
			if n, _ := res.RowsAffected(); n == 0 {
				// Another upload won the race (or the ID expired
				// meanwhile).
				err = s.checkPending(ctx, who, mediaID)
				if err == nil {
					err = clientapi.ErrCannotOverwriteMedia
				}
			}
		}
	}
	if err != nil {
		s.removeFile(rel)
		return "", err
	}
	s.wake(key(s.cfg.ServerName, mediaID))
	return mediaID, nil
}

// checkQuota refuses an upload of size that would take the user past
// MaxUserBytes. Two concurrent uploads may both pass: the bound is a
// guard against abuse, not an accounting.
func (s *Store) checkQuota(ctx context.Context, who clientapi.Identity, size int64) error {
	var used int64
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM media WHERE server_name=? AND owner=?`,
		s.cfg.ServerName, who.UserID).Scan(&used)
	if err != nil {
		return err
	}
	if used+size > s.cfg.MaxUserBytes {
		return clientapi.Forbidden("media quota exceeded")
	}
	return nil
}

// checkPending says why an ID from create cannot take content.
func (s *Store) checkPending(ctx context.Context, who clientapi.Identity, mediaID string) error {
	var owner string
	var expires int64
	var uploaded bool
	err := s.db.QueryRowContext(ctx, `SELECT owner, expires_ts, uploaded FROM media WHERE server_name=? AND media_id=?`,
		s.cfg.ServerName, mediaID).Scan(&owner, &expires, &uploaded)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return clientapi.NotFound("unknown media ID")
	case err != nil:
		return err
	case uploaded:
		return clientapi.ErrCannotOverwriteMedia
	case owner != who.UserID:
		return clientapi.Forbidden("the media ID was created by another user")
	case expires <= time.Now().UnixMilli():
		return clientapi.NotFound("the media ID has expired")
	}
	return nil
}

func (s *Store) wait(k string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(chan struct{})
	s.waiters[k] = append(s.waiters[k], c)
	return c
}

func (s *Store) unwait(k string, c chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.waiters[k]
	for i, w := range ws {
		if w == c {
			s.waiters[k] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(s.waiters[k]) == 0 {
		delete(s.waiters, k)
	}
}

func (s *Store) wake(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.waiters[k] {
		close(c)
	}
	delete(s.waiters, k)
}

// record is a row of media.
type record struct {
	contentType, fileName, path string
	size                        int64
	uploaded                    bool
	expires                     int64
}

func (s *Store) lookup(ctx context.Context, serverName, mediaID string) (*record, error) {
	var r record
	err := s.db.QueryRowContext(ctx, `SELECT content_type, file_name, path, size, uploaded, expires_ts FROM media WHERE server_name=? AND media_id=?`,
		serverName, mediaID).Scan(&r.contentType, &r.fileName, &r.path, &r.size, &r.uploaded, &r.expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &r, err
}

// local returns a local media record with content, waiting up to timeout
// for an ID from create to receive it.
func (s *Store) local(ctx context.Context, mediaID string, timeout time.Duration) (*record, error) {
	k := key(s.cfg.ServerName, mediaID)
	c := s.wait(k) // before the lookup, so an upload in between is not missed
	defer s.unwait(k, c)
	r, err := s.lookup(ctx, s.cfg.ServerName, mediaID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, clientapi.NotFound("media not found")
	}
	if r.uploaded {
		return r, nil
	}
	if r.expires <= time.Now().UnixMilli() {
		return nil, clientapi.NotFound("media not found")
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c:
	case <-t.C:
		return nil, clientapi.ErrNotYetUploaded
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r, err = s.lookup(ctx, s.cfg.ServerName, mediaID); err != nil {
		return nil, err
	}
	if r == nil || !r.uploaded {
		return nil, clientapi.ErrNotYetUploaded
	}
	return r, nil
}

func (s *Store) open(rel string, ct, name string) (*clientapi.MediaContent, error) {
	f, err := os.Open(filepath.Join(s.cfg.Dir, rel))
	if err != nil {
		return nil, fmt.Errorf("media file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &clientapi.MediaContent{ContentType: ct, FileName: name, Size: st.Size(), Body: f}, nil
}

// MediaContent implements clientapi.Media.
func (s *Store) MediaContent(ctx context.Context, _ clientapi.Identity, req clientapi.MediaRequest) (*clientapi.MediaContent, error) {
	var r *record
	var err error
	if req.ServerName == s.cfg.ServerName {
		r, err = s.local(ctx, req.MediaID, req.Timeout)
	} else {
		if req.Thumbnail != nil && req.AllowRemote {
			if m, err := s.remoteThumbnail(ctx, req); err == nil {
				return m, nil
			}
			// The remote server could not thumbnail: make one from
			// the original below.
		}
		r, err = s.remoteMedia(ctx, req.ServerName, req.MediaID, req.AllowRemote)
	}
	if err != nil {
		return nil, err
	}
	if req.Thumbnail != nil {
		return s.thumbnail(ctx, req.ServerName, req.MediaID, r, req.Thumbnail, req.ServerName != s.cfg.ServerName)
	}
	return s.open(r.path, r.contentType, r.fileName)
}

// remoteMedia returns the cached copy of remote media, fetching it first
// when allowed.
func (s *Store) remoteMedia(ctx context.Context, serverName, mediaID string, allowRemote bool) (*record, error) {
	r, err := s.lookup(ctx, serverName, mediaID)
	if err != nil || r != nil {
		return r, err
	}
	if !allowRemote || s.remote == nil {
		return nil, clientapi.NotFound("remote media not found")
	}
	m, err := s.remote.DownloadMedia(ctx, serverName, mediaID)
	if err != nil {
		return nil, remoteError(err)
	}
	body, err := s.followLocation(ctx, m)
	if err != nil {
		return nil, err
	}
	rel, size, err := s.writeFile(body)
	if err != nil {
		return nil, err
	}
	rec := &record{contentType: m.ContentType, fileName: m.FileName, path: rel, size: size, uploaded: true}
	_, err = s.db.ExecContext(ctx, `INSERT INTO media (server_name, media_id, content_type, file_name, size, path, created_ts, uploaded)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING`, serverName, mediaID, m.ContentType, m.FileName, size, rel, time.Now().UnixMilli())
	if err != nil {
		s.removeFile(rel)
		return nil, err
	}
	// A concurrent fetch may have recorded its copy first: serve that.
	if cur, err := s.lookup(ctx, serverName, mediaID); err == nil && cur != nil && cur.path != rel {
		s.removeFile(rel)
		return cur, nil
	}
	if err := s.evictRemote(ctx, serverName, mediaID); err != nil {
		return nil, err
	}
	return rec, nil
}

// evictRemote drops the remote media fetched longest ago (never keep,
// the one just fetched) until the cache is within MaxRemoteCache. A
// file being served while it is dropped stays readable through its open
// descriptor.
func (s *Store) evictRemote(ctx context.Context, keepServer, keepID string) error {
	var total int64
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM media WHERE server_name<>?`, s.cfg.ServerName).Scan(&total); err != nil {
		return err
	}
	for total > s.cfg.MaxRemoteCache {
		var server, id, rel string
		var size int64
		err := s.db.QueryRowContext(ctx, `SELECT server_name, media_id, path, size FROM media
			WHERE server_name<>? AND NOT (server_name=? AND media_id=?) ORDER BY created_ts, rowid LIMIT 1`,
			s.cfg.ServerName, keepServer, keepID).Scan(&server, &id, &rel, &size)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		thumbs, err := s.db.QueryContext(ctx, `SELECT path FROM thumbnails WHERE server_name=? AND media_id=?`, server, id)
		if err != nil {
			return err
		}
		var paths []string
		for thumbs.Next() {
			var p string
			if thumbs.Scan(&p) == nil {
				paths = append(paths, p)
			}
		}
		thumbs.Close()
		if _, err := s.db.ExecContext(ctx, `DELETE FROM thumbnails WHERE server_name=? AND media_id=?`, server, id); err != nil {
			return err
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM media WHERE server_name=? AND media_id=?`, server, id); err != nil {
			return err
		}
		// Rows first: a crash in between leaves unreferenced files,
		// never a record without its file.
		s.removeFile(rel)
		for _, p := range paths {
			s.removeFile(p)
		}
		total -= size
	}
	return nil
}

// followLocation returns the content of a federation media answer,
// fetching it from its Location (through the address guard, bounded)
// when the remote server redirected.
func (s *Store) followLocation(ctx context.Context, m *federation.Media) (io.Reader, error) {
	if int64(len(m.Body)) > s.cfg.MaxSize {
		return nil, tooLargeRemote()
	}
	if m.Location == "" {
		return bytesReader(m.Body), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Location, nil)
	if err != nil {
		return nil, remoteError(err)
	}
	resp, err := s.fetch.Do(req)
	if err != nil {
		return nil, remoteError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, remoteError(fmt.Errorf("redirect target answered %s", resp.Status))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxSize+1))
	if err != nil {
		return nil, remoteError(err)
	}
	if int64(len(data)) > s.cfg.MaxSize {
		return nil, tooLargeRemote()
	}
	if m.ContentType == "" {
		m.ContentType = resp.Header.Get("Content-Type")
	}
	return bytesReader(data), nil
}

// tooLargeRemote: "Homeservers should not proxy or thumbnail large files
// or images from remote homeservers, returning a HTTP 502 error with the
// M_TOO_LARGE code."
func tooLargeRemote() error {
	return clientapi.NewError(http.StatusBadGateway, clientapi.CodeTooLarge, "remote content is too large")
}

// remoteError maps a failure to fetch remote media: the remote's 404 is
// ours, anything else is 502.
func remoteError(err error) error {
	var fe *federation.Error
	if errors.As(err, &fe) && fe.Status == http.StatusNotFound {
		return clientapi.NotFound("remote media not found")
	}
	if errors.As(err, &fe) && fe.Code == clientapi.CodeNotYetUploaded {
		return clientapi.ErrNotYetUploaded
	}
	return clientapi.NewError(http.StatusBadGateway, clientapi.CodeUnknown, "could not fetch remote media: "+err.Error())
}

// Media implements federation.MediaRepository: local media only (a
// server asks the origin of media, never a cache).
func (s *Store) Media(ctx context.Context, mediaID string, thumb *federation.ThumbnailRequest) (*federation.Media, error) {
	req := clientapi.MediaRequest{ServerName: s.cfg.ServerName, MediaID: mediaID, Authenticated: true, Timeout: 20 * time.Second}
	if thumb != nil {
		method := thumb.Method
		if method == "" {
			method = "scale"
		}
		req.Thumbnail = &clientapi.ThumbnailSize{Width: thumb.Width, Height: thumb.Height, Method: method}
	}
	m, err := s.MediaContent(ctx, clientapi.Identity{}, req)
	if err != nil {
		if errors.Is(err, clientapi.ErrNotYetUploaded) {
			return nil, clientapi.NewError(http.StatusGatewayTimeout, clientapi.CodeNotYetUploaded, "content has not yet been uploaded")
		}
		return nil, err
	}
	defer m.Body.Close()
	data, err := io.ReadAll(m.Body)
	if err != nil {
		return nil, err
	}
	return &federation.Media{ContentType: m.ContentType, FileName: m.FileName, Body: data}, nil
}
