//! qing's memory allocator: the C library's `malloc` family, for Rust (through std's
//! System allocator) and for the C library's own few callers alike.
//!
//! Why one of our own: musl's mallocng is 11-13 KB of a static binary, a twentieth
//! of the minimal build, for processes that allocate a few hundred small buffers and
//! then exec, exit or sleep. This is a page of code.
//!
//! How: blocks of power-of-two sizes from 32 bytes to 64 KiB, each starting with a
//! 16-byte header that names its size class (so `free` needs no size), carved from
//! 256 KiB regions mapped as they are needed (only the pages written become
//! resident), and kept on one free list per class when freed, for the next block of
//! that class. Larger blocks are mappings of their own, unmapped when freed. One
//! lock guards it all: qing is single-threaded, but the contract is not.

use std::sync::atomic::{AtomicBool, Ordering};

/// Block sizes are 2^(MIN_SHIFT + class) bytes, header included.
const MIN_SHIFT: usize = 5;
const CLASSES: usize = 12; // 32 B .. 64 KiB
const HEADER: usize = 16;
const REGION: usize = 256 * 1024;
/// A header's class for a block that is a mapping of its own.
const LARGE: u32 = u32::MAX;

/// What the header before every block holds.
#[repr(C)]
struct Header {
    /// The size class, or LARGE.
    class: u32,
    /// From the header back to the start of its block: not 0 only for blocks whose
    /// alignment moved the header (posix_memalign).
    back: u32,
    /// For LARGE: the length of the mapping.
    mapped: usize,
}

struct Heap {
    free: [*mut u8; CLASSES],
    /// The unused rest of the current region.
    next: usize,
    end: usize,
}

static LOCK: AtomicBool = AtomicBool::new(false);
static mut HEAP: Heap = Heap {
    free: [std::ptr::null_mut(); CLASSES],
    next: 0,
    end: 0,
};

struct Held;

fn lock() -> Held {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    Held
}

impl Drop for Held {
    fn drop(&mut self) {
        LOCK.store(false, Ordering::Release);
    }
}

/// The class of a block of `total` bytes (header included), or None if larger.
fn class_of(total: usize) -> Option<usize> {
    let size = total.max(1 << MIN_SHIFT).checked_next_power_of_two()?;
    let class = size.trailing_zeros() as usize - MIN_SHIFT;
    (class < CLASSES).then_some(class)
}

fn map(len: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping at an address the kernel picks; the
    // result is checked against MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

/// A block of at least `size` bytes whose start is a multiple of `align` (a power of
/// two), with its header before it; null when memory is out.
fn allocate(size: usize, align: usize) -> *mut u8 {
    let align = align.max(HEADER);
    // Room for the header, and for moving the start up to an alignment beyond the
    // header's own.
    let Some(total) = size.checked_add(HEADER + (align - HEADER)) else {
        return std::ptr::null_mut();
    };
    let Some(class) = class_of(total) else {
        return allocate_large(total, align);
    };
    let block = {
        let _held = lock();
        // SAFETY: HEAP is only touched under the lock.
        let heap = unsafe { &mut *std::ptr::addr_of_mut!(HEAP) };
        let free = heap.free[class];
        if !free.is_null() {
            // SAFETY: a free block's first word is the next free block of its class.
            heap.free[class] = unsafe { free.cast::<*mut u8>().read() };
            free
        } else {
            let len = 1 << (class + MIN_SHIFT);
            if heap.end - heap.next < len {
                let region = map(REGION);
                if region.is_null() {
                    return std::ptr::null_mut();
                }
                heap.next = region as usize;
                heap.end = heap.next + REGION;
            }
            let block = heap.next as *mut u8;
            heap.next += len;
            block
        }
    };
    // SAFETY: `block` has 2^(class+5) >= total bytes, as `place` needs.
    unsafe { place(block, class as u32, 0, align) }
}

fn allocate_large(total: usize, align: usize) -> *mut u8 {
    let Some(len) = total.checked_add(4095).map(|l| l & !4095) else {
        return std::ptr::null_mut();
    };
    let block = map(len);
    if block.is_null() {
        return block;
    }
    // SAFETY: the mapping has `len` >= total bytes.
    unsafe { place(block, LARGE, len, align) }
}

/// Writes the header for `block` and returns the aligned address after it.
///
/// # Safety
/// `block` is valid for HEADER + `align` - HEADER + the caller's size bytes, and
/// 16-aligned.
unsafe fn place(block: *mut u8, class: u32, mapped: usize, align: usize) -> *mut u8 {
    let start = (block as usize + HEADER + align - 1) & !(align - 1);
    let header = (start - HEADER) as *mut Header;
    // SAFETY: the header lies within the block, 16-aligned, by the caller's promise.
    unsafe {
        header.write(Header {
            class,
            back: (header as usize - block as usize) as u32,
            mapped,
        })
    };
    start as *mut u8
}

/// The header of a block `allocate` returned, and the block's start.
///
/// # Safety
/// `p` came from `allocate` and was not freed.
unsafe fn header(p: *mut u8) -> (Header, *mut u8) {
    // SAFETY: `allocate` put the header right before `p`.
    let h = unsafe { p.sub(HEADER).cast::<Header>().read() };
    let block = (p as usize - HEADER - h.back as usize) as *mut u8;
    (h, block)
}

/// The bytes the block at `p` has room for after `p`.
///
/// # Safety
/// As for `header`.
unsafe fn capacity(p: *mut u8) -> usize {
    // SAFETY: the caller's promise.
    let (h, block) = unsafe { header(p) };
    let len = if h.class == LARGE {
        h.mapped
    } else {
        1 << (h.class as usize + MIN_SHIFT)
    };
    block as usize + len - p as usize
}

/// # Safety
/// As for `header`, or null.
unsafe fn release(p: *mut u8) {
    if p.is_null() {
        return;
    }
    // SAFETY: the caller's promise.
    let (h, block) = unsafe { header(p) };
    if h.class == LARGE {
        // SAFETY: the block is the whole mapping `allocate_large` made.
        unsafe { libc::munmap(block.cast(), h.mapped) };
        return;
    }
    let _held = lock();
    // SAFETY: HEAP under the lock; the freed block's first word becomes the link.
    unsafe {
        let heap = &mut *std::ptr::addr_of_mut!(HEAP);
        block.cast::<*mut u8>().write(heap.free[h.class as usize]);
        heap.free[h.class as usize] = block;
    }
}

/// The C library's interface: what std's System allocator and musl itself call.
#[cfg(all(target_env = "musl", not(test)))]
mod c_abi {
    use super::*;

    #[no_mangle]
    pub extern "C" fn malloc(size: usize) -> *mut u8 {
        allocate(size, HEADER)
    }

    #[no_mangle]
    pub extern "C" fn calloc(count: usize, size: usize) -> *mut u8 {
        let Some(bytes) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        let p = allocate(bytes, HEADER);
        if !p.is_null() {
            // SAFETY: the block has room for `bytes`.
            unsafe { p.write_bytes(0, bytes) };
        }
        p
    }

    /// # Safety
    /// `p` is null or came from this allocator and was not freed.
    #[no_mangle]
    pub unsafe extern "C" fn free(p: *mut u8) {
        // SAFETY: the caller's promise.
        unsafe { release(p) }
    }

    /// # Safety
    /// As for `free`.
    #[no_mangle]
    pub unsafe extern "C" fn realloc(p: *mut u8, size: usize) -> *mut u8 {
        if p.is_null() {
            return allocate(size, HEADER);
        }
        // SAFETY: the caller's promise.
        let room = unsafe { capacity(p) };
        if size <= room {
            return p;
        }
        let q = allocate(size, HEADER);
        if !q.is_null() {
            // SAFETY: both blocks hold at least `room` bytes, and do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(p, q, room);
                release(p);
            }
        }
        q
    }

    #[no_mangle]
    pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut u8 {
        if !align.is_power_of_two() {
            return std::ptr::null_mut();
        }
        allocate(size, align)
    }

    /// # Safety
    /// `out` is valid for a write.
    #[no_mangle]
    pub unsafe extern "C" fn posix_memalign(out: *mut *mut u8, align: usize, size: usize) -> i32 {
        if !align.is_power_of_two() || align < std::mem::size_of::<usize>() {
            return libc::EINVAL;
        }
        let p = allocate(size, align);
        if p.is_null() {
            return libc::ENOMEM;
        }
        // SAFETY: the caller's promise.
        unsafe { out.write(p) };
        0
    }

    /// # Safety
    /// As for `free`.
    #[no_mangle]
    pub unsafe extern "C" fn malloc_usable_size(p: *mut u8) -> usize {
        if p.is_null() {
            return 0;
        }
        // SAFETY: the caller's promise.
        unsafe { capacity(p) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_hold_what_was_asked_aligned_and_come_back_after_free() {
        for (size, align) in [
            (0, 16),
            (1, 16),
            (15, 16),
            (16, 16),
            (100, 64),
            (5000, 4096),
            (70_000, 16),
            (1 << 20, 16),
        ] {
            let p = allocate(size, align);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0, "{size} aligned to {align}");
            // SAFETY: p came from allocate.
            let room = unsafe { capacity(p) };
            assert!(room >= size, "{size}: room {room}");
            // SAFETY: the block has `size` bytes.
            unsafe { p.write_bytes(0xa5, size) };
            // SAFETY: p came from allocate and is freed once.
            unsafe { release(p) };
        }
        // A freed block of a class is the next one of that class.
        let a = allocate(40, 16);
        // SAFETY: a came from allocate.
        unsafe { release(a) };
        let b = allocate(40, 16);
        assert_eq!(a, b);
        // SAFETY: b came from allocate.
        unsafe { release(b) };
        assert!(allocate(usize::MAX - 8, 16).is_null());
    }

    #[test]
    fn size_classes_are_powers_of_two_from_32_bytes_to_64_kib() {
        assert_eq!(class_of(1), Some(0));
        assert_eq!(class_of(32), Some(0));
        assert_eq!(class_of(33), Some(1));
        assert_eq!(class_of(65536), Some(11));
        assert_eq!(class_of(65537), None);
        assert_eq!(class_of(usize::MAX), None);
    }
}
