//! The one call into the `gemm` crate, the kernel Burn's flex backend runs for every float matmul,
//! behind a safe function: the fused training step (`fused.rs`) needs flex's exact products
//! without a tensor around each, and `gemm` only offers raw pointers.
#![allow(unsafe_code)]

/// A matrix in a slice: `rows × cols`, element `(i, j)` at `i·row_stride + j·col_stride`.
#[derive(Debug, Clone, Copy)]
pub(super) struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// The first `rows × cols` elements of `data`, row-major.
    pub(super) fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose, as flex's `transpose()` makes it: the same memory with the strides swapped.
    pub(super) fn t(self) -> Self {
        View { rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride, ..self }
    }

    /// Whether every element the view names lies inside its slice.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride < self.data.len()
    }
}

/// `dst = a · b`, `dst` row-major `a.rows × b.cols` (overwritten, never read), with the arguments
/// flex's `matmul_2d_strided` passes to `gemm::gemm` for the same views, so that the sums run
/// in the same order and give the same bits. Flex is built without rayon, so single-threaded.
///
/// # Panics
/// When the shapes disagree or a view reaches outside its slice (a bug in the caller).
pub(super) fn matmul(dst: &mut [f32], a: View<'_>, b: View<'_>) {
    assert_eq!(a.cols, b.rows, "matmul: inner dimensions differ");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert!(dst.len() >= m * n, "matmul: destination too small");
    assert!(a.in_bounds() && b.in_bounds(), "matmul: a view reaches outside its slice");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: gemm reads lhs at i·lhs_rs + l·lhs_cs for i < m, l < k, rhs at l·rhs_rs + j·rhs_cs
    // for l < k, j < n (both checked by `in_bounds` above), and writes dst at i·n + j for i < m,
    // j < n (checked against `dst.len()`); `read_dst = false`, so dst's old values are not read.
    // The three slices are distinct borrows, one of them mutable, so they do not overlap.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_of_plain_and_transposed_views_by_hand() {
        // a = [[1, 2, 3], [4, 5, 6]], b = [[1, 0], [0, 1], [1, 1]]
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut out = [f32::NAN; 4];
        matmul(&mut out, View::rows(&a, 2, 3), View::rows(&b, 3, 2));
        assert_eq!(out, [4.0, 5.0, 10.0, 11.0]);
        // aᵀ·a, 3 × 3, from the same memory.
        let mut gram = [0.0; 9];
        matmul(&mut gram, View::rows(&a, 2, 3).t(), View::rows(&a, 2, 3));
        assert_eq!(gram, [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]);
    }

    #[test]
    #[should_panic(expected = "outside its slice")]
    fn a_view_larger_than_its_slice_is_refused() {
        let a = [1.0; 5];
        let mut out = [0.0; 4];
        matmul(&mut out, View::rows(&a, 2, 3), View::rows(&a, 3, 2).t().t());
    }
}
