import os
import splice                                         # the module; call splice.splice(...)

to_read = open("read.txt", "rb")                      # a 50-byte file; do not read() it first
to_write = open("write.txt", "wb")
size = os.path.getsize("read.txt")

print(splice.splice(to_write, to_read, None, size))   # 50: whole file from the current position
print(splice.splice(to_write, to_read, None, size))   # 0: at end of file
print(splice.splice(to_write, to_read, 10, size))     # 40: from offset 10, position left alone
print(splice.splice(to_write, to_read, 10, 20))       # 20: 20 bytes from offset 10
os.lseek(to_read.fileno(), 0, os.SEEK_SET)
print(splice.splice(to_write, to_read, None, 20))     # 20: 20 bytes from the current position
print(splice.splice(to_write, to_read, 0, size, splice.SPLICE_F_MORE))   # 50, with a flag
