import Foundation

/// How much of the current thread's native stack is left, so that the evaluator and the checker
/// refuse a program that would overflow it with a located error instead of dying by SIGSEGV.
///
/// A call count cannot bound the stack: one call of a function whose body is a wide expression
/// uses as much stack as a hundred calls of a small one, and debug builds use several times the
/// stack of release builds. So the recursive walkers ask, at every level, whether the stack
/// pointer is still `reserve` bytes above the lowest address of the thread's stack, which they
/// read once per thread with `pthread_getattr_np`. The reserve leaves room for what runs at the
/// deepest level: a builtin calling into libpng, OpenBLAS or oneDNN, and the error's unwinding.
struct StackBudget {
    /// Bytes kept free below the deepest level the interpreter may reach.
    static let reserve = 1 << 20

    private var thread: pthread_t?
    private var lowest: UInt = 0
    /// The thread's stack size in bytes, for messages.
    private(set) var size = 0

    /// Whether the calling thread has fewer than `reserve` bytes of stack left.
    mutating func isExhausted() -> Bool {
        let here = Self.stackPointer()
        if let thread, pthread_equal(thread, pthread_self()) != 0 {
            return here < lowest
        }
        measure()
        return here < lowest
    }

    /// The stack size in MiB, as messages say it.
    var sizeDescription: String {
        size >= 1 << 20 ? "\(size >> 20) MiB" : "\(size >> 10) KiB"
    }

    private mutating func measure() {
        let current = pthread_self()
        thread = current
        var attributes = pthread_attr_t()
        guard let getAttributes = Self.getAttributes, getAttributes(current, &attributes) == 0 else {
            lowest = 0
            return
        }
        defer { pthread_attr_destroy(&attributes) }
        var start: UnsafeMutableRawPointer?
        var bytes = 0
        guard pthread_attr_getstack(&attributes, &start, &bytes) == 0, let start else {
            lowest = 0
            return
        }
        size = bytes
        lowest = UInt(bitPattern: start) + UInt(Self.reserve)
    }

    /// glibc's `pthread_getattr_np`, which Swift's Glibc module does not declare (it needs
    /// `_GNU_SOURCE`); looked up once by name. Without it the budget is never exhausted and only
    /// the parser's and the call count's limits apply.
    private static let getAttributes: (@convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32)? = {
        guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "pthread_getattr_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32).self)
    }()

    /// An address in the caller's frame: the stack grows down on every platform Swift runs on
    /// here (x86-64, AArch64), so a lower address means a deeper stack.
    @inline(never)
    private static func stackPointer() -> UInt {
        var marker: UInt8 = 0
        return withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
    }
}
