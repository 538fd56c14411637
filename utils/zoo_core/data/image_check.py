"""Is this file an image that MindSpore's decoder can take? A check that runs before any decoding.

A JPEG cut after its headers kills the process with SIGFPE inside MindSpore 2.10's C++ decoder, in
every error-samples mode (measured with files cut to 200 and 400 bytes, and with the headers followed
directly by the end marker), so such a file must never reach it. `quick_check` reads a few bytes at each
end of a file, and a JPEG's marker segments up to its scan: the signature must be one of the formats
the decoder reads (JPEG, PNG, BMP, TIFF; GIF and WebP are refused by it), a JPEG must reach a start of
scan with image data after it, and a JPEG or PNG must end with its end marker. A file that fails only the end-marker test is decoded once with
Pillow (`full_check`), so that a valid JPEG with trailing bytes (some cameras append data) is kept.
"""
import os

from PIL import Image

# Leading bytes of each format that MindSpore's `vision.Decode` reads.
SIGNATURES = (
    (b'\xff\xd8\xff', 'JPEG'),
    (b'\x89PNG\r\n\x1a\n', 'PNG'),
    (b'BM', 'BMP'),
    (b'II*\x00', 'TIFF'),
    (b'MM\x00*', 'TIFF'),
)
# The first read of a file: its signature and, for nearly every JPEG, all its marker segments.
HEADER_READ_BYTES = 64 * 1024
# Formats whose last bytes must hold an end marker, and the markers.
END_MARKERS = {'JPEG': b'\xff\xd9', 'PNG': b'IEND'}
# How far from the end (bytes) an end marker may stand: padding after it is common, a trailer is rarer
# and goes to the full check.
END_MARKER_WINDOW = 64
UNSUPPORTED_HINT = 'not a JPEG, PNG, BMP or TIFF image'
# JPEG markers: 0xFF then the code; these codes stand alone, every other one is followed by a 2-byte length.
JPEG_MARKER_PREFIX = 0xFF
JPEG_START_OF_SCAN = 0xDA
JPEG_END_OF_IMAGE = 0xD9
JPEG_STANDALONE_MARKERS = frozenset({0x01, 0xD8} | set(range(0xD0, 0xD8)))
JPEG_SEGMENT_LENGTH_BYTES = 2
# The start-of-image marker (FF D8) that the marker segments follow.
JPEG_START_OF_IMAGE_BYTES = 2


def sniff_format(head):
    """'JPEG', 'PNG', 'BMP' or 'TIFF' for a file starting with `head`; None for anything else."""
    return next((name for signature, name in SIGNATURES if head.startswith(signature)), None)


def jpeg_scan_start(data):
    """Offset of the first byte after the start-of-scan segment in a JPEG's leading bytes `data`, or None
    when its marker segments end (end of `data`, end of image, or a broken segment) before a scan starts."""
    offset = JPEG_START_OF_IMAGE_BYTES
    while offset < len(data):
        if data[offset] != JPEG_MARKER_PREFIX:
            return None
        while offset < len(data) and data[offset] == JPEG_MARKER_PREFIX:  # fill bytes before a marker code
            offset += 1
        if offset >= len(data) or data[offset] == JPEG_END_OF_IMAGE:
            return None
        code = data[offset]
        offset += 1
        if code in JPEG_STANDALONE_MARKERS:
            continue
        length = int.from_bytes(data[offset:offset + JPEG_SEGMENT_LENGTH_BYTES], 'big')
        if offset + JPEG_SEGMENT_LENGTH_BYTES > len(data) or length < JPEG_SEGMENT_LENGTH_BYTES:
            return None
        offset += length
        if code == JPEG_START_OF_SCAN:
            return offset if offset <= len(data) else None
    return None


def quick_check(path):
    """(problem or None, needs_full_check): what is wrong with `path` from its leading and last bytes."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            return 'empty file (0 bytes)', False
        with open(path, 'rb') as handle:
            head = handle.read(HEADER_READ_BYTES)
            image_format = sniff_format(head)
            scan_start = None
            if image_format == 'JPEG':
                scan_start = jpeg_scan_start(head)
                if scan_start is None and len(head) < size:  # headers longer than the first read (rare)
                    handle.seek(0)
                    scan_start = jpeg_scan_start(handle.read())
            if size > len(head):
                handle.seek(size - END_MARKER_WINDOW)
                tail = handle.read()
            else:
                tail = head[-END_MARKER_WINDOW:]
    except OSError as error:
        return f'cannot be read: {error.strerror or error}', False
    if image_format is None:
        return f'{UNSUPPORTED_HINT} ({size} bytes starting {head[:4].hex()})', False
    if image_format == 'JPEG' and (scan_start is None or scan_start >= size - len(END_MARKERS['JPEG'])):
        return 'JPEG without image data (cut after its headers?)', False
    marker = END_MARKERS.get(image_format)
    if marker is not None and marker not in tail:
        return f'{image_format} without its end marker (truncated?)', True
    return None, False


def full_check(path):
    """The problem Pillow finds decoding the whole of `path`, or None when it decodes."""
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as error:  # Pillow raises many types (OSError, SyntaxError, ValueError, ...)
        return f'cannot be decoded: {str(error).splitlines()[0] if str(error) else type(error).__name__}'
    return None


def check_image(path, thorough=False):
    """What is wrong with image file `path`, or None when it is fit for the decoder.

    `thorough` decodes every file with Pillow (`utils/check_dataset.py`); otherwise only the files that
    the quick check doubts are decoded.
    """
    problem, doubtful = quick_check(path)
    if problem is not None and not doubtful:
        return problem
    if problem is not None or thorough:
        decoded = full_check(path)
        if decoded is not None:
            return f'{problem}; {decoded}' if problem else decoded
    return None
