import splice

# Copy one file to another. Destination first, like os.sendfile(out, in, ...).
with open("read.txt", "rb") as to_read, open("write.txt", "wb") as to_write:
    total = 0
    while n := splice.splice(to_write, to_read, None, 1 << 20):  # None: use and advance the position
        total += n
print(total, "bytes copied")
