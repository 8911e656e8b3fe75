// Loaded before every Node test file, as the program entries load it: @peculiar/x509 needs the
// reflect-metadata polyfill before it is imported.
import 'reflect-metadata';
