// 'edgerec/onnx' in Node: loadOnnx reading paths from the file system.
import { onnxLoader } from '../onnx.js';
import { readLocal } from './index.js';

export { onnxMetadata } from '../onnx.js';
export const loadOnnx = onnxLoader(readLocal);
