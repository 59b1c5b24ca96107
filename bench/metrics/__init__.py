"""Image-quality metrics: full-reference (PSNR, SSIM, FSIM) and no-reference (NIQE, SSEQ, BRISQUE)."""
