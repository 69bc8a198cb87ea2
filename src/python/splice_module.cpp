// Python module `splice`: the classic splice API over splicefs's zero-copy library.
// Errors surface as OSError (or its errno subclasses) with the right errno.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <system_error>

#include "splicefs/copy.hpp"
#include "splicefs/flags.hpp"
#include "splicefs/splice.hpp"

namespace py = pybind11;
namespace sp = splicefs::splice;

namespace {

// An int, or any object with fileno() (files, sockets).
int to_fd(const py::handle& obj) {
    if (py::isinstance<py::int_>(obj)) return obj.cast<int>();
    if (py::hasattr(obj, "fileno")) return obj.attr("fileno")().cast<int>();
    throw py::type_error("expected a file descriptor (int) or an object with fileno()");
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

sp::CopyResult do_copy_file(const py::handle& src, const py::handle& dst) {
    const FileArg s = to_file_arg(src);
    const FileArg d = to_file_arg(dst);
    py::gil_scoped_release unlocked;
    return sp::copy_file(s.ref(), d.ref());
}

std::size_t do_copy_range(const py::handle& in, off_t off_in, const py::handle& out, off_t off_out,
                          std::size_t len, unsigned flags) {
    const int in_fd = to_fd(in);
    const int out_fd = to_fd(out);
    py::gil_scoped_release unlocked;
    return sp::copy_range(in_fd, off_in, out_fd, off_out, len, flags);
}

}  // namespace

PYBIND11_MODULE(splice, m) {
    m.doc() = "Zero-copy data transfer (splice(2), tee(2), sendfile(2), copy_file_range(2)).";

    // OSError(errno, strerror) picks the errno subclass (BlockingIOError, FileNotFoundError, ...).
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const std::system_error& e) {
            const int err = e.code().value();
            const py::object exc = py::reinterpret_steal<py::object>(PyObject_CallFunction(
                PyExc_OSError, "is", err, std::generic_category().message(err).c_str()));
            if (exc) PyErr_SetObject(PyExc_OSError, exc.ptr());
        }
    });

    m.attr("SPLICE_F_MOVE") = sp::to_underlying(sp::Flags::move);
    m.attr("SPLICE_F_NONBLOCK") = sp::to_underlying(sp::Flags::nonblock);
    m.attr("SPLICE_F_MORE") = sp::to_underlying(sp::Flags::more);
    m.attr("SPLICE_F_GIFT") = sp::to_underlying(sp::Flags::gift);

    m.def("splice", &do_splice, py::arg("out"), py::arg("in_"), py::arg("offset"), py::arg("nbytes"),
          py::arg("flags") = 0U,
          "Move up to nbytes from `in_` to `out`; return the count, 0 at end of file.\n"
          "offset=None reads from (and advances) the current position of `in_`; an int offset\n"
          "leaves that position alone. Works between any two fds (an internal pipe is used\n"
          "when neither is a pipe).");
    m.def("tee", &do_tee, py::arg("out"), py::arg("in_"), py::arg("nbytes"), py::arg("flags") = 0U,
          "Duplicate up to nbytes from pipe `in_` to pipe `out` without consuming them.");
    m.def("sendfile", &do_sendfile, py::arg("out"), py::arg("in_"), py::arg("offset"), py::arg("nbytes"),
          "sendfile(2) with the same offset rules as splice(); may return a short count.");
    m.def("copy_range", &do_copy_range, py::arg("in_"), py::arg("off_in"), py::arg("out"), py::arg("off_out"),
          py::arg("length"), py::arg("flags") = 0U,
          "One copy_file_range(2) call at explicit offsets (file positions untouched).");

    py::class_<sp::CopyResult>(m, "CopyResult")
        .def_readonly("bytes", &sp::CopyResult::bytes)
        .def_property_readonly("method",
                               [](const sp::CopyResult& r) { return std::string(sp::to_string(r.method)); })
        .def("__iter__",
             [](const sp::CopyResult& r) {
                 return py::iter(py::make_tuple(r.bytes, std::string(sp::to_string(r.method))));
             })
        .def("__repr__", [](const sp::CopyResult& r) {
            return "CopyResult(bytes=" + std::to_string(r.bytes) + ", method='" +
                   std::string(sp::to_string(r.method)) + "')";
        });
    m.def("copy_file", &do_copy_file, py::arg("src"), py::arg("dst"),
          "Copy src to dst (paths or fds) with copy_file_range, else splice, else read/write.\n"
          "Returns CopyResult(bytes, method); unpacks as `n, method = copy_file(a, b)`.");
}
