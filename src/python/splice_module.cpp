// splice._splice: the compiled half of the Python package `splice` (see splice/__init__.py),
// the classic splice API over splicefs's zero-copy library. Errors surface as OSError (or
// its errno subclasses) with the right errno.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <climits>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>

#include "splicefs/copy.hpp"
#include "splicefs/flags.hpp"
#include "splicefs/splice.hpp"

#ifndef SPLICEFS_VERSION
#error "SPLICEFS_VERSION must be defined by the build (CMakeLists.txt project VERSION)"
#endif

namespace py = pybind11;
namespace sp = splicefs::splice;

namespace {

// An int, or any object with fileno() (files, sockets), as os.sendfile and select do.
int int_fd(const py::handle& number) {
    int overflow = 0;
    const long fd = PyLong_AsLongAndOverflow(number.ptr(), &overflow);
    if (fd == -1 && PyErr_Occurred() != nullptr) throw py::error_already_set();
    if (overflow != 0 || fd < INT_MIN || fd > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "file descriptor out of range");
        throw py::error_already_set();
    }
    return static_cast<int>(fd);
}

int to_fd(const py::handle& obj) {
    if (py::isinstance<py::int_>(obj)) return int_fd(obj);
    if (py::hasattr(obj, "fileno")) {
        const py::object fd = obj.attr("fileno")();
        if (!py::isinstance<py::int_>(fd)) throw py::type_error("fileno() returned a non-integer");
        return int_fd(fd);
    }
    throw py::type_error("expected a file descriptor (int) or an object with fileno(), not " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
}

sp::Flags to_flags(unsigned flags) {
    return static_cast<sp::Flags>(flags);
}

// A copy_file side: an fd-like object, or a path (str, bytes, os.PathLike).
struct FileArg {
    int fd = -1;
    std::string path;
    [[nodiscard]] sp::FileRef ref() const { return fd >= 0 ? sp::FileRef(fd) : sp::FileRef(path.c_str()); }
};

FileArg to_file_arg(const py::handle& obj) {
    if (py::isinstance<py::int_>(obj) || py::hasattr(obj, "fileno")) return {to_fd(obj), {}};
    // os.fsencode raises TypeError for anything that is not str, bytes or os.PathLike.
    const py::bytes encoded = py::module_::import("os").attr("fsencode")(obj);
    return {-1, std::string(encoded)};
}

std::size_t do_splice(const py::handle& out, const py::handle& in, std::optional<off_t> offset,
                      std::size_t nbytes, unsigned flags) {
    const int out_fd = to_fd(out);
    const int in_fd = to_fd(in);
    py::gil_scoped_release unlocked;
    return sp::splice(out_fd, in_fd, offset, nbytes, to_flags(flags));
}

std::size_t do_tee(const py::handle& out, const py::handle& in, std::size_t nbytes, unsigned flags) {
    const int out_fd = to_fd(out);
    const int in_fd = to_fd(in);
    py::gil_scoped_release unlocked;
    return sp::tee(out_fd, in_fd, nbytes, to_flags(flags));
}

std::size_t do_sendfile(const py::handle& out, const py::handle& in, std::optional<off_t> offset,
                        std::size_t nbytes) {
    const int out_fd = to_fd(out);
    const int in_fd = to_fd(in);
    py::gil_scoped_release unlocked;
    return sp::sendfile(out_fd, in_fd, offset, nbytes);
}

// (bytes, method name); splice/__init__.py wraps it in the CopyResult named tuple.
std::tuple<std::size_t, std::string> do_copy_file(const py::handle& src, const py::handle& dst) {
    const FileArg s = to_file_arg(src);
    const FileArg d = to_file_arg(dst);
    sp::CopyResult result;
    {
        py::gil_scoped_release unlocked;
        result = sp::copy_file(s.ref(), d.ref());
    }
    return {result.bytes, std::string(sp::to_string(result.method))};
}

std::size_t do_copy_range(const py::handle& in, off_t off_in, const py::handle& out, off_t off_out,
                          std::size_t len, unsigned flags) {
    const int in_fd = to_fd(in);
    const int out_fd = to_fd(out);
    py::gil_scoped_release unlocked;
    return sp::copy_range(in_fd, off_in, out_fd, off_out, len, flags);
}

// Docstrings start with "name(params)\n--\n\n": CPython turns that line into
// __text_signature__, so help() and inspect.signature() show the real parameters (pybind11's
// own signatures are switched off: they would say `handle` for "int or file object").
constexpr const char* kSpliceDoc = R"(splice(out, in_, offset, nbytes, flags=0)
--

Move up to nbytes from in_ to out inside the kernel; return how many moved.

out, in_ -- file descriptors: ints, or objects with fileno() (files, sockets).
    The destination comes first, as in os.sendfile(out_fd, in_fd, ...).
    Either side may be a pipe, a regular file or a socket: when neither is a
    pipe, the data goes through a per-thread internal pipe.
offset -- None: read from in_'s current position and advance it, like read().
    An int: read from that offset; in_'s position is left alone, like pread().
    Must be None when in_ is a pipe or a socket (else ESPIPE).
nbytes -- the most to move in this call.
flags -- a bitwise or of SPLICE_F_MOVE, SPLICE_F_NONBLOCK, SPLICE_F_MORE,
    SPLICE_F_GIFT (see splice(2)). With SPLICE_F_NONBLOCK a pipe that is
    empty (input) or full (output) raises BlockingIOError (EAGAIN) instead
    of waiting. SPLICE_F_MORE tells a socket more data follows.

Returns the bytes moved: 0 at end of file, possibly fewer than nbytes (a
pipe holds at most its size, a socket may take less), so loop:

    while n := splice.splice(dst, src, None, 1 << 20): ...

Raises OSError (or its errno subclass) with the errno of the failing call.
When the output fails after input was pulled into the internal pipe, the
input position is rewound: nothing is lost or left behind.)";

constexpr const char* kTeeDoc = R"(tee(out, in_, nbytes, flags=0)
--

Duplicate up to nbytes from pipe in_ into pipe out without consuming them.

Both must be pipes (ints or objects with fileno()). in_ still holds the data
afterwards, so a following splice() from in_ sees the same bytes.
flags as for splice(): SPLICE_F_NONBLOCK raises BlockingIOError (EAGAIN)
instead of waiting on an empty in_ or a full out.
Returns the bytes duplicated (0 when in_ has no writer left and is empty).
Raises OSError with the errno (EINVAL when a side is not a pipe).)";

constexpr const char* kSendfileDoc = R"(sendfile(out, in_, offset, nbytes)
--

sendfile(2): copy up to nbytes from file in_ to out (a socket, a pipe or
a file) inside the kernel; return the bytes sent.

offset -- None: from in_'s current position, which advances; an int: from
    that offset, position left alone (the same rules as splice()).
Returns 0 at end of file and may return fewer than nbytes: loop.
Raises OSError with the errno.)";

constexpr const char* kCopyRangeDoc = R"(copy_range(in_, off_in, out, off_out, length, flags=0)
--

One copy_file_range(2) call: copy up to length bytes from file in_ at
off_in to file out at off_out, inside the kernel (on filesystems that
support it, by sharing extents or copying server-side).

Both offsets are explicit; neither file position changes. flags must be 0
(reserved by the kernel). Returns the bytes copied: 0 at end of file, and
it may be short. Raises OSError with the errno (EXDEV across filesystems on
older kernels, EINVAL for an O_APPEND out, EBADF, ...).)";

constexpr const char* kCopyFileDoc = R"(copy_file(src, dst)
--

Copy all of src to dst; return (bytes, method). Use splice.copy_file, which
returns the same as a CopyResult named tuple.)";

}  // namespace

PYBIND11_MODULE(_splice, m) {
    m.doc() = "Compiled half of the `splice` package; import `splice` instead.";
    py::options options;
    options.disable_function_signatures();

    // OSError(errno, strerror) picks the errno subclass (BlockingIOError, FileNotFoundError, ...).
    // By value: pybind11 stores the translator as a void(*)(std::exception_ptr).
    py::register_exception_translator(
        [](std::exception_ptr p) {  // NOLINT(performance-unnecessary-value-param)
            try {
                if (p) std::rethrow_exception(p);
            } catch (const std::system_error& e) {
                const int err = e.code().value();
                const py::object exc = py::reinterpret_steal<py::object>(PyObject_CallFunction(
                    PyExc_OSError, "is", err, std::generic_category().message(err).c_str()));
                if (exc) PyErr_SetObject(PyExc_OSError, exc.ptr());
            }
        });

    m.attr("__version__") = SPLICEFS_VERSION;
    m.attr("SPLICE_F_MOVE") = sp::to_underlying(sp::Flags::move);
    m.attr("SPLICE_F_NONBLOCK") = sp::to_underlying(sp::Flags::nonblock);
    m.attr("SPLICE_F_MORE") = sp::to_underlying(sp::Flags::more);
    m.attr("SPLICE_F_GIFT") = sp::to_underlying(sp::Flags::gift);

    m.def("splice", &do_splice, py::arg("out"), py::arg("in_"), py::arg("offset"), py::arg("nbytes"),
          py::arg("flags") = 0U, kSpliceDoc);
    m.def("tee", &do_tee, py::arg("out"), py::arg("in_"), py::arg("nbytes"), py::arg("flags") = 0U, kTeeDoc);
    m.def("sendfile", &do_sendfile, py::arg("out"), py::arg("in_"), py::arg("offset"), py::arg("nbytes"),
          kSendfileDoc);
    m.def("copy_range", &do_copy_range, py::arg("in_"), py::arg("off_in"), py::arg("out"), py::arg("off_out"),
          py::arg("length"), py::arg("flags") = 0U, kCopyRangeDoc);
    m.def("copy_file", &do_copy_file, py::arg("src"), py::arg("dst"), kCopyFileDoc);
}
