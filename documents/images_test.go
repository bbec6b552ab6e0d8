package documents_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/devicebank/devicebank/documents"
)

// Images are taken in the formats asked for, and come out as a plain PNG
// of the same pixels whatever went in: nothing after the image data, no
// chunk but the image's own.
func TestCleanImage(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 40, 20))
	img.Set(3, 3, color.White)
	var p, j bytes.Buffer
	if err := png.Encode(&p, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&j, img, nil); err != nil {
		t.Fatal(err)
	}
	trailing := append(append([]byte{}, p.Bytes()...), []byte("<script>alert(1)</script>")...)
	for name, in := range map[string][]byte{"png": p.Bytes(), "jpeg": j.Bytes(), "png with bytes after it": trailing} {
		out, err := documents.CleanImage(in, documents.LogoRules)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, format, err := image.Decode(bytes.NewReader(out))
		if err != nil || format != "png" || got.Bounds() != img.Bounds() {
			t.Fatalf("%s: %s %v %v", name, format, got.Bounds(), err)
		}
		if bytes.Contains(out, []byte("script")) {
			t.Errorf("%s: the bytes after the image were kept", name)
		}
	}
	if _, err := documents.CleanImage(j.Bytes(), documents.ImageRules{Formats: []string{"png"}}); !errors.Is(err, documents.ErrNotImage) {
		t.Errorf("a JPEG where only PNG is taken: %v", err)
	}
	blank := image.NewNRGBA(image.Rect(0, 0, 10, 10))
	var b bytes.Buffer
	png.Encode(&b, blank)
	if _, err := documents.CleanImage(b.Bytes(), documents.ImageRules{Formats: []string{"png"}, MustHaveInk: true}); !errors.Is(err, documents.ErrBlankImage) {
		t.Errorf("a blank image that must have ink: %v", err)
	}
	if _, err := documents.CleanImage(b.Bytes(), documents.ImageRules{Formats: []string{"png"}}); err != nil {
		t.Errorf("a blank image that may be blank: %v", err)
	}
}
