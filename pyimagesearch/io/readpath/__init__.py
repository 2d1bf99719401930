"""The read path: an HDF5 data set's file owned by one object, rows read without h5py's lock.

`DatasetFile` owns an open data set (its labels, its identity, the read path
chosen for it, change detection); `ChunkReader` reads the rows of the files
`HDF5DatasetWriter` writes with positional reads; `checksum` verifies their
chunks; `BatchMemory` reuses the buffers batches are read into.
"""
